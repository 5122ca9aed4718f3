"""The servers the API benchmark starts (a private Redis, gunicorn) and their certain stop.

Each runs in its own session (process group), so Ctrl-C in the terminal reaches only the bench,
which then stops them itself: an ExitStack callback per server, run on success, failure, Ctrl-C
or SIGTERM alike. Stopping is SIGTERM to the group, then SIGKILL after a grace period.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

STOP_GRACE_SECONDS = 10
START_TIMEOUT_SECONDS = 60
OUT_OF_REACH = "1000000000/m"  # rate limits: counted, never reached


def unwind_on_signals() -> None:
    """SIGTERM unwinds like Ctrl-C, so the ExitStack still stops everything. SIGINT is set
    explicitly: a shell starting the bench in the background would have it ignored."""
    def handler(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def spawn(stack: ExitStack, command: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """Start a server in its own process group, logging to `log`; the stack stops it."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    stack.callback(stop, process)
    return process


def start_redis(stack: ExitStack, run_dir: Path) -> str:
    """A private redis-server on a free loopback port, no persistence: nobody else's keys or load."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is missing (apt-get install -y redis-server), or give --redis-url")
    port = free_port()
    process = spawn(
        stack,
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(run_dir)],
        run_dir / "redis.log",
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited; see {run_dir / 'redis.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not answer in time")


def start_gunicorn(stack: ExitStack, run_dir: Path, env: dict[str, str], workers: int, root: Path) -> str:
    """gunicorn as the Dockerfile runs it (sync workers, access log), on a free loopback port: its URL."""
    return start_gunicorn_process(stack, run_dir, env, workers, root)[0]


def start_gunicorn_process(stack: ExitStack, run_dir: Path, env: dict[str, str], workers: int,
                           root: Path) -> tuple[str, subprocess.Popen]:
    """The same, with the master process (bench/profile_api.py samples its workers)."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "smmpanel.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
        "--limit-request-line", "8190", "--access-logfile", str(run_dir / "access.log"),
        "--error-logfile", str(run_dir / "gunicorn.log"), "--backlog", "2048",
    ]
    process = spawn(stack, command, run_dir / "gunicorn.out", cwd=root, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {run_dir / 'gunicorn.log'} and gunicorn.out")
        try:
            with urllib.request.urlopen(base + "/health/live/", timeout=2) as answer:
                if answer.status == 200:
                    return base, process
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health/live/ in time")


def server_environment(database_url: str, run_dir: Path, redis_url: str, rate_limit: str) -> dict[str, str]:
    """What gunicorn (and the bench's own process, for seeding and checks) runs with: production settings."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        "REDIS_URL": redis_url,
        "VAR_DIR": str(run_dir / "var"),
        "API_RATE_LIMIT_ADD": rate_limit,
        "API_RATE_LIMIT_READ": rate_limit,
        "API_RATE_LIMIT_ANON": rate_limit,
        "LOG_LEVEL": "WARNING",
    }
