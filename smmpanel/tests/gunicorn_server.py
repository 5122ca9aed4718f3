"""A real gunicorn for tests, started as production starts it (`-c gunicorn.conf.py`, production
settings) against the test database; the tests using it must be `transactional_db`."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from orders.tests.live_processes import Process, Processes, database_url, free_port, wait_for


@contextmanager
def running_gunicorn(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[Process, str]]:
    """Yields the process and its base URL; stops it (and waits for it) at the end."""
    port = free_port()
    base_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"}}
    base_env.update(
        DJANGO_SETTINGS_MODULE="smmpanel.settings",
        SECRET_KEY="a-production-like-secret-key-for-this-test-only",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url(),
        CONN_MAX_AGE="0",
        VAR_DIR=str(tmp_path / "var"),
    )
    base_env.update(env or {})
    group = Processes(tmp_path=tmp_path, env=base_env)
    try:
        # The command of the Dockerfile and docker-compose.yml, on a free local port.
        web = group.spawn("gunicorn", [
            sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "smmpanel.wsgi",
            "--bind", f"127.0.0.1:{port}", *args,
        ])
        base = f"http://127.0.0.1:{port}"

        def live() -> bool:
            assert web.alive(), web.log()
            try:
                return requests.get(f"{base}/health/live/", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(live, timeout=60, interval=0.2, message="gunicorn")
        yield web, base
    finally:
        group.stop_all()
