"""CPU milliseconds per reseller API call, in one process: robust to a busy machine where wall-clock
req/s is noise. Not a load test (bench/api.py is); a before/after gauge for optimisations.

    .venv/bin/python bench/cpu_per_call.py [--calls 300] [--reseed] [--profile services] [--profile-lines 45]

Each call goes through Django's WSGI handler with the production settings (DEBUG off, Redis cache
and rate-limit counters on a private redis-server, the request log, the metrics middleware), with a
form body from bench/api.py's seed, exactly as gunicorn would hand it over. Per action it prints the
CPU time of this process and of the PostgreSQL backend serving it (from /proc), per call, and the
SQL statements of one call. The database (`smmpanel_bench_cpu`, seeded once: 20 000 orders over
200 accounts, 2 000 services) is kept between runs; `--reseed` recreates it.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "smmpanel_bench_cpu"
SCENARIOS = ("status", "status100", "balance", "services", "add")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[subprocess.Popen, str, str]:
    folder = tempfile.mkdtemp(prefix="smmpanel-cpu-redis-")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", folder], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, folder, f"redis://127.0.0.1:{port}/0"


def recreate_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


REFERENCE_PATHS = {scenario: f"/bench/ref/{scenario}" for scenario in SCENARIOS}


def environ_for(body: str, path: str = "/api/v2") -> dict:
    data = body.encode()
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "RAW_URI": path, "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }


def call(handler, body: str, path: str = "/api/v2") -> bytes:
    response = handler(environ_for(body, path), lambda status, headers: None)
    content = b"".join(response)
    response.close()  # request_finished: the request log's flush, connection housekeeping
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="measured calls per action (services: a tenth)")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--server-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--profile", choices=SCENARIOS, help="also print a cProfile summary of this action")
    parser.add_argument("--profile-lines", type=int, default=45, help="functions the cProfile summary lists")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--reference", action="store_true",
                        help="also measure bench/reference.py's view of each action (its floor), as bench/api.py does")
    args = parser.parse_args()

    redis_process, redis_dir, redis_url = start_redis()
    try:
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "bench.settings", "SECRET_KEY": "bench-cpu", "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1", "DATABASE_URL": f"{args.server_url}/{DATABASE}", "REDIS_URL": redis_url,
            "CONN_MAX_AGE": "600", "LOG_LEVEL": "WARNING",
            "API_RATE_LIMIT_ADD": "1000000000/m", "API_RATE_LIMIT_READ": "1000000000/m",
            "API_RATE_LIMIT_ANON": "1000000000/m",
        })
        seeded_marker = Path(tempfile.gettempdir()) / f"{DATABASE}.bodies"
        if args.reseed or not seeded_marker.exists():
            recreate_database(args.server_url)
        import django

        django.setup()
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command
        from django.db import connection

        from bench.apibench import seeding
        from bench.tick import _backend_cpu

        call_command("migrate", verbosity=0)  # also brings a kept database up to the code's migrations
        if args.reseed or not seeded_marker.exists():
            rnd = random.Random(8)
            panel = seeding.seed_panel(n_orders=20_000, n_accounts=200, n_services=2_000, rnd=rnd)
            seeding.write_bodies(seeded_marker, seeding.request_bodies(panel, rnd))
        bodies: dict[str, list[str]] = {}
        for line in seeded_marker.read_text().splitlines():
            scenario, _, body = line.partition("\t")
            bodies.setdefault(scenario, []).append(body)
        links = iter(range(10**9))
        run_tag = f"{time.time_ns()}"

        def body_of(scenario: str, i: int) -> str:
            body = bodies[scenario][i % len(bodies[scenario])]
            return body + f"https://instagram.com/cpu{run_tag}x{next(links)}" if scenario == "add" else body

        handler = WSGIHandler()
        print(f"{'action':<14} {'calls':>5} {'CPU ms/call':>12} {'PG ms/call':>11} {'queries':>8}")
        runs = [(scenario, "/api/v2") for scenario in args.scenarios.split(",")]
        if args.reference:
            runs += [(scenario, REFERENCE_PATHS[scenario]) for scenario in args.scenarios.split(",")]
        for scenario, path in runs:
            n = max(10, args.calls // 10) if scenario == "services" else args.calls
            for i in range(20):  # warm-up: connections, caches, the key's last-use write
                answer = call(handler, body_of(scenario, i), path)
            assert b'"error"' not in answer, answer[:200]
            statements = []
            # Not CaptureQueriesContext: request_started empties connection.queries mid-capture.
            with connection.execute_wrapper(lambda execute, sql, *a: statements.append(sql) or execute(sql, *a)):
                call(handler, body_of(scenario, 0), path)
            server, cpu = _backend_cpu(), time.process_time()
            for i in range(n):
                call(handler, body_of(scenario, i), path)
            cpu, server_after = time.process_time() - cpu, _backend_cpu()
            pg = (server_after - server) * 1000 / n if server is not None and server_after is not None else float("nan")
            name = scenario if path == "/api/v2" else f"{scenario} ref"
            print(f"{name:<14} {n:>5} {cpu * 1000 / n:>12.2f} {pg:>11.2f} {len(statements):>8}")
            if scenario == args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for i in range(n):
                    call(handler, body_of(scenario, i))
                profile.disable()
                stats = io.StringIO()
                pstats.Stats(profile, stream=stats).sort_stats("cumulative").print_stats(args.profile_lines)
                print(stats.getvalue())
    finally:
        redis_process.terminate()
        redis_process.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
