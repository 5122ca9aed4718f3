"""Real processes for the integration tests: Celery workers and beats against the test database,
and private Redis servers. Every process runs in its own process group and is stopped (and
waited for) by the fixture that started it, so no test leaves anything running.

The workers use the test database pytest-django created (its tests must be `transactional_db`,
so what the test writes is committed and visible to them) and `smmpanel.test_settings`.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "smmpanel"]
TICK_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """Pids of the main process's live children (a prefork worker's pool processes)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The command name (in parentheses) may hold spaces; state and parent pid follow it.
                state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
            except (OSError, ValueError):  # the process ended meanwhile
                continue
            if int(ppid) == self.popen.pid and state != "Z":  # a killed child stays a zombie until reaped
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a warm shutdown for Celery), then SIGKILL; returns when the group is gone."""
        self.kill_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.popen.poll()
            try:
                os.killpg(self.popen.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        self.kill_group(signal.SIGKILL)
        self.popen.wait(timeout=10)


@dataclass
class Processes:
    """Starts processes for one test and stops them all at its end."""

    tmp_path: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        log_path = self.tmp_path / f"{name}-{len(self.started)}.log"
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path)
        self.started.append(process)
        return process

    def worker(self, *extra: str, concurrency: int = 2, env: dict[str, str] | None = None) -> Process:
        """A Celery worker (prefork pool), returned once it is ready to take tasks."""
        name = f"w{len(self.started)}@%h"
        process = self.spawn(
            "worker",
            [*CELERY, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency), "-n", name,
             "--without-heartbeat", "--without-gossip", "--without-mingle", *extra],
            env,
        )
        wait_for(lambda: "ready." in process.log() or not process.alive(), timeout=60, message="worker ready")
        assert process.alive(), process.log()
        return process

    def beat(self, env: dict[str, str] | None = None) -> Process:
        """A Celery beat with its own schedule file, sending the fulfillment tick every TICK_SECONDS."""
        schedule = self.tmp_path / f"beat-{len(self.started)}-schedule"
        process = self.spawn("beat", [*CELERY, "beat", "--loglevel", "INFO", "-s", str(schedule)], env)
        wait_for(lambda: "beat: Starting" in process.log() or not process.alive(), timeout=60, message="beat")
        assert process.alive(), process.log()
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


class PrivateRedis:
    """A redis-server of our own on a free port (never the shared one), without persistence."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.dir = tmp_path / f"redis-{self.port}"
        self.dir.mkdir()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=20, message="private redis")

    def stop(self) -> None:
        """Stop it, losing everything it held (a restart comes back empty)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: a hung Redis. The kernel still accepts connections on its port, but nothing
        answers them. `stop` (SIGKILL) ends a paused server too."""
        assert self.process and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def database_url() -> str:
    """The URL of the test database pytest-django created, for the worker processes."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _use_broker(app, url: str, transport_options: dict) -> None:
    """Point this process's Celery app at another broker. Its pools are dropped, not closed in
    place: kombu keys them by URL and a force-closed pool refuses every later publish ("Acquire on
    closed pool"), which silently turned each wake-up after `add` into a warning.
    """
    app.conf.broker_url = url
    # An explicit transport outranks the URL's scheme: the embedded one only goes with its own URLs.
    app.conf.broker_transport = "smmpanel.broker:Transport" if url.startswith("filesystem://") else None
    app.conf.broker_transport_options = transport_options
    kombu.pools.reset()
    app._after_fork()  # Celery's own way to forget its connection and producer pools


@pytest.fixture
def processes(transactional_db, private_redis, tmp_path) -> Iterator[Processes]:
    """Workers and beats on a private Redis and the test database; the test process publishes
    to the same broker, so wake-ups after `add` reach them.
    """
    from orders import wakeups
    from smmpanel.celery import app

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smmpanel.test_settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": private_redis.url,
        "FULFILLMENT_TICK_SECONDS": str(TICK_SECONDS),
        "VAR_DIR": str(tmp_path / "var"),
    }
    # The test process (and the live server in it) publishes to the same private broker.
    previous = app.conf.broker_url, app.conf.broker_transport_options
    _use_broker(app, private_redis.url, {"socket_connect_timeout": 1, "socket_timeout": 2, "max_retries": 0})
    wakeups._skip_until = 0.0
    group = Processes(tmp_path=tmp_path, env=env)
    try:
        yield group
    finally:
        group.stop_all()
        _use_broker(app, *previous)
        wakeups._skip_until = 0.0
