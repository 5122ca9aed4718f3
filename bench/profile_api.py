#!/usr/bin/env python
"""Profiles of the reseller API under load: py-spy samples the gunicorn workers while wrk drives
each scenario, against the API and against its reference view.

    .venv/bin/python bench/profile_api.py [--duration 8] [--scenarios status,add,...] [--keep-database]

The same panel, servers and load as bench/api.py (bench/apibench: a fresh seeded database, a
private Redis, gunicorn with production settings, wrk with the generated bodies), smaller by
default. Per run, `py-spy record --format raw --idle --subprocesses` samples the workers for
`--duration` seconds inside a slightly longer wrk run; bench/apibench/profiles.py summarises the
stacks by layer (and our own modules by function) and bench/apibench/profile_report.py writes the
`## Profiles` section of bench/REPORT.md. The raw stacks stay in the run's folder under /tmp.
Everything it starts is stopped at the end, on failure and on Ctrl-C too.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Not bench/ on the path: this script's name would shadow the standard library's `profile` (cProfile imports it).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]

from bench import tick
from bench.apibench import load, processes, profile_report, profiles, seeding
from bench.apibench.scenarios import API_PATH, SCENARIOS

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/smmpanel_bench_profile"
LEAD_SECONDS = 2  # wrk runs this long before sampling starts (warm-up, py-spy attaching) …
TAIL_SECONDS = 1  # … and this long after it ends, so every sample is under load


def parse_args() -> argparse.Namespace:
    names = [s.name for s in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="sampled seconds per run (default 8)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second and worker (default 250)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=2 * cores + 1,
                        help=f"gunicorn sync workers (default 2 × cores + 1 = {2 * cores + 1})")
    parser.add_argument("--scenarios", default=",".join(names), help=f"comma-separated, from {', '.join(names)} "
                                                                     "(default all)")
    parser.add_argument("--orders", type=int, default=20_000, help="orders in flight in the seed (default 20000)")
    parser.add_argument("--accounts", type=int, default=200, help="reseller accounts with keys (default 200)")
    parser.add_argument("--services", type=int, default=2_000, help="active services in the catalog (default 2000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_PROFILE_DATABASE_URL", DEFAULT_URL),
                        help=f"PostgreSQL database to drop, recreate and seed (default {DEFAULT_URL}); "
                             "its name must start with smmpanel_bench")
    parser.add_argument("--rate-limit", default=processes.OUT_OF_REACH,
                        help=f"API_RATE_LIMIT_ADD/_READ/_ANON (default {processes.OUT_OF_REACH}: counted, never "
                             "reached; empty turns them off)")
    parser.add_argument("--report", type=Path, default=BENCH_DIR / "REPORT.md",
                        help="the report whose `## Profiles` section is rewritten (default bench/REPORT.md)")
    parser.add_argument("--no-report", action="store_true", help="print the summaries only")
    parser.add_argument("--keep-database", action="store_true", help="leave the seeded database for inspection")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data and bodies")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    if unknown := set(chosen) - set(names):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.chosen = [s for s in SCENARIOS if s.name in chosen]
    if not tick.db_name(args.database_url).startswith("smmpanel_bench"):
        parser.error("--database-url: the database is dropped and recreated, so its name must start with smmpanel_bench")
    return args


def py_spy_binary() -> str:
    beside = Path(sys.executable).with_name("py-spy")  # installed into .venv by bench/requirements.txt
    binary = str(beside) if beside.exists() else shutil.which("py-spy")
    if binary is None:
        raise SystemExit("py-spy is missing: .venv/bin/pip install -r bench/requirements.txt (make bench-deps)")
    return binary


def py_spy_version() -> str:
    answer = subprocess.run([py_spy_binary(), "--version"], capture_output=True, text=True, check=True, timeout=10)
    return answer.stdout.strip()


def record(pid: int, seconds: int, rate: int, out: Path) -> None:
    """Sample gunicorn's master and its workers. --idle keeps the samples of a worker blocked on a
    socket (they are part of a request's time); --nonblocking does not pause the workers to read
    their stacks, which would slow them at this rate. py-spy needs ptrace rights (root, or
    kernel.yama.ptrace_scope 0 for processes of the same user)."""
    command = [py_spy_binary(), "record", "--format", "raw", "--rate", str(rate), "--subprocesses", "--idle",
               "--nonblocking", "--function", "--duration", str(seconds), "--pid", str(pid), "--output", str(out)]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if answer.returncode != 0 or not out.exists():
        raise SystemExit(f"py-spy failed ({answer.returncode}): {' '.join(command)}\n{answer.stderr[-2000:]}\n"
                         "It needs ptrace rights: run as root, or sysctl kernel.yama.ptrace_scope=0.")


def profile_run(args, wrk: load.Load, base: str, master: int, run_dir: Path, scenario, served_by: str,
                path: str) -> profile_report.Profile:
    """One wrk run with py-spy sampling its middle `--duration` seconds."""
    raw = run_dir / f"{scenario.name}-{'api' if served_by == 'API' else 'reference'}.collapsed"
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(load.run, wrk, base + path, scenario.name, f"profile-{raw.stem}-{time.time_ns()}",
                              duration=LEAD_SECONDS + args.duration + TAIL_SECONDS)
        time.sleep(LEAD_SECONDS)
        record(master, args.duration, args.rate, raw)
        result = running.result()
    summary = profiles.summarise(profiles.parse(raw.read_text(), exclude_pids=frozenset({master})))
    profile = profile_report.Profile(scenario, served_by, path, result, summary, str(raw))
    print(f"{scenario.name:>10} {served_by:>9} {path:<20} {result.rate:7.0f} req/s  errors {result.errors}  "
          f"{summary.samples} samples, {summary.in_request} in requests, waiting "
          f"{profile_report.pct(summary.share(summary.waiting))}", flush=True)
    if result.errors:
        print(f"  first bad answer: {result.sample}", flush=True)
    return profile


def estimate_seconds(args) -> int:
    runs = 2 * len(args.chosen)
    return 30 + 60 * args.orders // 100_000 + runs * (LEAD_SECONDS + args.duration + TAIL_SECONDS + 3)


def main() -> None:
    args = parse_args()
    processes.unwind_on_signals()
    py_spy = py_spy_version()
    clean_environment = dict(os.environ)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/profile_api.py", *sys.argv[1:]])
    run_dir = Path(tempfile.mkdtemp(prefix="smmpanel-bench-profile-"))
    print(f"About {estimate_seconds(args) // 60 + 1} minutes; logs and raw stacks in {run_dir}", flush=True)
    load_before = os.getloadavg()[0]
    found: list[profile_report.Profile] = []
    with ExitStack() as stack:
        redis_url = processes.start_redis(stack, run_dir)
        env = processes.server_environment(args.database_url, run_dir, redis_url, args.rate_limit)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        bodies = run_dir / "bodies.txt"
        panel = seeding.fresh_panel(stack, args.database_url, keep=args.keep_database, n_orders=args.orders,
                                    n_accounts=args.accounts, n_services=args.services, seed=args.seed, bodies=bodies)
        seeded = (f"{tick.fmt_int(args.orders)} orders in flight over {tick.fmt_int(len(panel.accounts))} accounts, "
                  f"one hot account, {tick.fmt_int(panel.services)} active services")
        print(f"Seeded in {panel.seconds:.0f} s: {seeded}", flush=True)
        connection.close()

        with ExitStack() as servers:
            base, master = processes.start_gunicorn_process(servers, run_dir, {**clean_environment, **env},
                                                            args.workers, ROOT)
            wrk = load.Load(threads=args.threads, connections=args.connections, duration=args.duration, bodies=bodies)
            for scenario in args.chosen:
                for served_by, path in (("reference", scenario.reference), ("API", API_PATH)):
                    found.append(profile_run(args, wrk, base, master.pid, run_dir, scenario, served_by, path))

    about = profile_report.About(
        command=command, stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=tick.machine(),
        seeded=seeded, duration=args.duration, rate_hz=args.rate, workers=args.workers,
        connections=args.connections, threads=args.threads, py_spy=py_spy,
        load_before=load_before, load_after=os.getloadavg()[0],
    )
    text = profile_report.section(found, about, str(run_dir))
    print("\n" + text)
    print(f"Raw collapsed stacks (flamegraph.pl or speedscope read them): {run_dir}")
    if not args.no_report:
        tick.write_report(args.report, text, heading=profile_report.SECTION)
        print(f"Wrote the {profile_report.SECTION} section of {args.report}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # everything started was stopped on the way out
        raise SystemExit("interrupted; the servers it started are stopped") from None
