"""Real web processes for the tests: gunicorn serving the panel on a free port, against the test
database pytest-django created (so the tests using it are `transactional_db`: what they write is
committed and visible to the server, and what the server writes to them)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from orders.tests.live_processes import Process, Processes, database_url, free_port, wait_for


@dataclass
class WebServer:
    process: Process
    url: str

    def api(self, key: str | None, action: str = "balance", **fields) -> dict:
        data = {"key": key, "action": action, **fields}
        response = requests.post(self.url + "/api/v2", data={k: v for k, v in data.items() if v is not None},
                                 timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def _answers(url: str) -> bool:
    try:
        # The liveness URL, not the API: a probe must not leave rows in the request log.
        return requests.get(url + "/health/live/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


class WebServers(Processes):
    def gunicorn(self, env: dict[str, str] | None = None) -> WebServer:
        """One gunicorn (one sync worker) on a free port, returned once it answers."""
        port = free_port()
        process = self.spawn(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "smmpanel.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--graceful-timeout", "10"],
            env,
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url) or not process.alive(), timeout=60, message="gunicorn ready")
        assert process.alive(), process.log()
        return WebServer(process, url)


@pytest.fixture
def web_servers(transactional_db, tmp_path) -> Iterator[WebServers]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smmpanel.test_settings",
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(tmp_path / "var"),
    }
    servers = WebServers(tmp_path=tmp_path, env=env)
    try:
        yield servers
    finally:
        servers.stop_all()
