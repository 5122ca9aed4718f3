#!/usr/bin/env python
"""Benchmark: the reseller API under gunicorn against a bare JSON view and per-action reference views.

    .venv/bin/python bench/api.py [--duration 10] [--connections 8] [--scenarios status,add,...] [--smoke]

One bounded run on loopback (see bench/README.md): a fresh PostgreSQL database seeded here (orders
in flight, a catalog, accounts with keys and balance), a private Redis, gunicorn with production
settings, wrk; every scenario against the API, its reference view and a bare JSON view; then the
fulfillment tick (bench/tick.py). Writes the `## Reseller API` section of bench/REPORT.md and
bench/api.png. Everything it starts is stopped at the end, on failure and on Ctrl-C too.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from bench import tick  # noqa: E402
from bench.apibench import checks, load, processes, report, seeding  # noqa: E402
from bench.apibench.processes import OUT_OF_REACH  # noqa: E402
from bench.apibench.scenarios import API_PATH, BARE_PATH, SCENARIOS  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/smmpanel_bench_api"


def parse_args() -> argparse.Namespace:
    names = [s.name for s in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, help="measured seconds per run (default 10; 3 with --smoke)")
    parser.add_argument("--warmup", type=int, help="unmeasured seconds before each run (default 2; 1 with --smoke)")
    parser.add_argument("--rounds", type=int, help="times every run is repeated, in turn; the report gives the "
                                                   "median and the spread (default 3; 1 with --smoke)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=2 * cores + 1,
                        help=f"gunicorn sync workers (default 2 × cores + 1 = {2 * cores + 1})")
    parser.add_argument("--scenarios", default=",".join(names),
                        help=f"comma-separated, from {', '.join(names)} (default all); the bare JSON run always runs")
    parser.add_argument("--orders", type=int, default=100_000, help="orders in flight in the seed (default 100000)")
    parser.add_argument("--accounts", type=int, default=1_000, help="reseller accounts with keys (default 1000)")
    parser.add_argument("--services", type=int, default=2_000, help="active services in the catalog (default 2000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_API_DATABASE_URL", DEFAULT_URL),
                        help=f"PostgreSQL database to drop, recreate and seed (default {DEFAULT_URL}); "
                             "its name must start with smmpanel_bench")
    parser.add_argument("--redis-url", help="use this Redis (a database number ≥ 10, flushed first) instead of "
                                            "starting a private redis-server")
    parser.add_argument("--rate-limit", default=OUT_OF_REACH,
                        help=f"API_RATE_LIMIT_ADD/_READ/_ANON for the server (default {OUT_OF_REACH}: counted, "
                             "never reached; empty turns them off)")
    parser.add_argument("--tick-orders", type=int, help="orders for the tick benchmark (default --orders)")
    parser.add_argument("--tick-runs", type=int, help="tick runs (default 5; 1 with --smoke)")
    parser.add_argument("--no-tick", action="store_true", help="skip the tick benchmark")
    parser.add_argument("--smoke", action="store_true",
                        help="short runs to check the harness; the report says the figures are noise and the "
                             "tick's own section is left as it is")
    parser.add_argument("--report", type=Path, default=BENCH_DIR / "REPORT.md",
                        help="the report whose `## Reseller API` section is rewritten (default bench/REPORT.md); "
                             "the tick writes its section there too")
    parser.add_argument("--plot", type=Path, help="the plot (default api.png beside the report)")
    parser.add_argument("--no-report", action="store_true", help="print the figures only")
    parser.add_argument("--keep-database", action="store_true", help="leave the seeded database for inspection")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data and bodies")
    args = parser.parse_args()
    args.duration = args.duration or (3 if args.smoke else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 2)
    args.tick_runs = args.tick_runs or (1 if args.smoke else 5)
    args.rounds = args.rounds or (1 if args.smoke else 3)
    args.plot = args.plot or args.report.with_name("api.png")
    args.tick_orders = args.tick_orders or args.orders
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    if unknown := set(chosen) - set(names):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.chosen = [s for s in SCENARIOS if s.name in chosen]
    if not tick.db_name(args.database_url).startswith("smmpanel_bench"):
        parser.error("--database-url: the database is dropped and recreated, so its name must start with smmpanel_bench")
    if args.redis_url:
        number = urllib.parse.urlsplit(args.redis_url).path.strip("/") or "0"
        if not number.isdigit() or int(number) < 10:
            parser.error("--redis-url: use a database number ≥ 10, e.g. redis://127.0.0.1:6379/12 (it is flushed)")
    return args


def estimate_seconds(args) -> int:
    runs = 1 + sum(3 if s.cached_bytes else 2 for s in args.chosen)
    tick_seconds = 0 if args.no_tick else 30 + args.tick_runs * 12 * args.tick_orders // 100_000
    return 60 * args.orders // 100_000 + args.rounds * runs * (args.duration + args.warmup + 2) + tick_seconds


def main() -> None:
    args = parse_args()
    processes.unwind_on_signals()
    clean_environment = dict(os.environ)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/api.py", *sys.argv[1:]])
    run_dir = Path(tempfile.mkdtemp(prefix="smmpanel-bench-api-"))
    print(f"About {estimate_seconds(args) // 60 + 1} minutes; logs in {run_dir}", flush=True)
    load_before = os.getloadavg()[0]
    outcome = report.Outcome(runs=[], tick=None)
    with ExitStack() as stack:
        redis_url = args.redis_url or processes.start_redis(stack, run_dir)
        env = processes.server_environment(args.database_url, run_dir, redis_url, args.rate_limit)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.cache import cache
        from django.db import connection

        if args.redis_url:
            cache.clear()  # its own database number: stale counters or bytes would skew the run
            stack.callback(cache.clear)  # and nothing of the run is left in it
        bodies = run_dir / "bodies.txt"
        panel = seeding.fresh_panel(stack, args.database_url, keep=args.keep_database, n_orders=args.orders,
                                    n_accounts=args.accounts, n_services=args.services, seed=args.seed, bodies=bodies)
        seeded = (f"{tick.fmt_int(args.orders)} orders in flight over {tick.fmt_int(len(panel.accounts))} accounts "
                  f"with a key and balance each, plus one hot account; {tick.fmt_int(panel.services)} active services")
        print(f"Seeded in {panel.seconds:.0f} s: {seeded}", flush=True)
        versions = tick.versions()

        with ExitStack() as servers:
            base = processes.start_gunicorn(servers, run_dir, {**clean_environment, **env}, args.workers, ROOT)
            services_answer = fetch_services(base, panel)
            cache.set(report_key(), services_answer, None)
            seeded += f" (the `services` answer: {len(services_answer) / 1024:.0f} KiB)"
            wrk = load.Load(threads=args.threads, connections=args.connections, duration=args.duration, bodies=bodies)
            plan = [("bare", "bare JSON", BARE_PATH, "status", False)]
            for s in args.chosen:
                plan.append((s.name, "reference", s.reference, s.name, s.writes))
                if s.cached_bytes:
                    plan.append((s.name, "cached bytes", s.cached_bytes, s.name, False))
                plan.append((s.name, "API", API_PATH, s.name, s.writes))
            for round_ in range(1, args.rounds + 1):
                for scenario, served_by, path, bodies_of, writes in plan:
                    outcome.runs.append(measure(args, wrk, base, scenario, served_by, path, bodies_of, writes, round_))
            versions.update(server_versions(redis_url))
        connection.close()

    if not args.no_tick:
        outcome.tick = run_tick(args, run_dir, clean_environment)
    load_after = os.getloadavg()[0]
    print_summary(outcome)
    shutil.rmtree(run_dir, ignore_errors=True)  # kept only when the run fails, for its logs
    if args.no_report:
        return
    about = report.About(
        command=command, stamp=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), smoke=args.smoke,
        duration=args.duration, warmup=args.warmup, rounds=args.rounds, threads=args.threads, connections=args.connections,
        workers=args.workers, rate_limit=args.rate_limit or "off", seeded=seeded,
        gunicorn_command=f"gunicorn smmpanel.wsgi:application --workers {args.workers} --worker-class sync "
                         "--limit-request-line 8190 --access-logfile FILE --backlog 2048  "
                         "# DJANGO_SETTINGS_MODULE=bench.settings",
        wrk_command=" ".join(load.command(wrk, "http://127.0.0.1:PORT/api/v2", "SCENARIO", "TAG"))
        .replace(str(ROOT) + "/", "").replace(str(bodies), "BODIES").replace(load.wrk_binary(), "wrk", 1),
        machine=tick.machine(), versions=versions, load_before=load_before, load_after=load_after,
    )
    tick.write_report(args.report, report.section(outcome, args.chosen, about), heading=report.SECTION)
    print(f"Wrote {args.report}")
    try:
        report.plot(args.plot, outcome, args.chosen)
    except ImportError:
        print("No plot: matplotlib is missing (.venv/bin/pip install -r bench/requirements.txt)")
    else:
        print(f"Wrote {args.plot}")


def report_key() -> str:
    from bench.reference import SERVICES_BYTES_KEY

    return SERVICES_BYTES_KEY


def fetch_services(base: str, panel: seeding.Panel) -> bytes:
    """The API's real `services` answer, for the cached-bytes view; checks it lists the catalog."""
    data = urllib.parse.urlencode({"key": panel.accounts[0][1], "action": "services"}).encode()
    with urllib.request.urlopen(base + API_PATH, data=data, timeout=60) as answer:
        body = answer.read()
    listed = json.loads(body)
    if not isinstance(listed, list) or len(listed) != panel.services:
        raise SystemExit(f"services answered {str(listed)[:200]!r}, expected {panel.services} services")
    return body


def measure(args, wrk: load.Load, base: str, scenario: str, served_by: str, path: str, bodies_of: str,
            writes: bool, round_: int) -> report.Run:
    tag = f"{scenario}-{served_by.replace(' ', '')}-r{round_}-{secrets.token_hex(3)}"
    if args.warmup:
        load.run(wrk, base + path, bodies_of, tag + "-w", duration=args.warmup)
    if writes:
        time.sleep(1)  # let requests in flight when wrk last hung up finish before counting orders
    before = checks.last_order_id() if writes else 0
    result = load.run(wrk, base + path, bodies_of, tag)
    run = report.Run(scenario, served_by, path, result, round=round_)
    if writes:
        time.sleep(1)
        run.problems = checks.writes_problems(after_order_id=before, successful_adds=result.orders,
                                              in_flight=wrk.connections)
    note = f"; first bad answer: {result.sample}" if result.sample else ""
    problems = f"; PROBLEMS: {'; '.join(run.problems)}" if run.problems else ""
    print(f"{round_} {scenario:>10} {served_by:>12} {path:<22} {result.rate:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
          f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}{note}{problems}", flush=True)
    return run


def server_versions(redis_url: str) -> dict[str, str]:
    import gunicorn
    import redis
    import rest_framework

    return {
        "Django REST framework": rest_framework.VERSION,
        "gunicorn": gunicorn.__version__,
        "Redis": redis.Redis.from_url(redis_url).info()["redis_version"],
        "load tool": load.wrk_version(),
    }


def run_tick(args, run_dir: Path, environment: dict[str, str]) -> dict:
    """bench/tick.py in its own process and databases; its figures come back as JSON."""
    result = run_dir / "tick.json"
    command = [sys.executable, str(BENCH_DIR / "tick.py"), "--orders", str(args.tick_orders),
               "--runs", str(args.tick_runs), "--json", str(result), "--report", str(args.report),
               "--plot", str(args.report.with_name("tick.png"))]
    if args.smoke or args.no_report:
        command.append("--no-report")  # a smoke run must not replace the tick's real figures
    print("Tick:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, env=environment, timeout=300 + 120 * args.tick_runs)
    figures = json.loads(result.read_text())
    shown = [".venv/bin/python", "bench/tick.py", "--orders", str(args.tick_orders), "--runs", str(args.tick_runs)]
    figures["command"] = " ".join(shown + (["--no-report"] if "--no-report" in command else []))
    return figures


def print_summary(outcome: report.Outcome) -> None:
    for name, measured, ok in report.targets(outcome, SCENARIOS):
        print(f"{'met    ' if ok else 'NOT MET' if ok is False else '       '} {name}: {measured}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # everything started was stopped on the way out
        raise SystemExit("interrupted; the servers it started are stopped") from None
