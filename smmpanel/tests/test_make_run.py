"""`make run` on the embedded defaults (SQLite, filesystem broker, no other server): a newcomer's
first minutes.

Runs the real Makefile target (web, worker and beat) in its own process group on a free port
with a private VAR_DIR, reads the printed key, then with plain HTTP cancels one order and
watches another move through its whole life.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_run(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), FULFILLMENT_TICK_SECONDS="1")
    log = (tmp_path / "make-run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, Path(log.name).read_text()
            output = Path(log.name).read_text()
            if "API key:" in output:
                try:
                    requests.get(f"{base_url}/admin/login/", timeout=2)
                    break
                except requests.ConnectionError:
                    pass
            time.sleep(0.3)
        else:
            pytest.fail("make run did not come up:\n" + Path(log.name).read_text())
        yield base_url, Path(log.name).read_text()
    finally:
        _stop_group(process)
        log.close()


def _stop_group(process: subprocess.Popen) -> None:
    """Ctrl-C's equivalent for the whole group, then wait until every member has gone."""
    os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_make_run_serves_the_demo_on_sqlite(make_run, tmp_path):
    base_url, output = make_run
    key = re.search(r"^API key: (\S+)$", output, re.MULTILINE).group(1)
    password = re.search(r"user 'admin' password (\S+)", output).group(1)
    assert f"{base_url}/api/v2" in output
    assert (tmp_path / "var" / "db.sqlite3").exists()

    def api(**fields):
        response = requests.post(f"{base_url}/api/v2", data={"key": key, **fields}, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        return response.json()

    services = api(action="services")
    assert len(services) >= 10 and {s["type"] for s in services} >= {"Default", "Package", "SEO"}
    assert api(action="balance") == {"balance": "1000.00", "currency": "TRY"}
    slow = next(s for s in services if "3 min start" in s["name"])
    order = api(action="add", service=slow["service"], link="https://instagram.com/newcomer", quantity=1000)
    assert api(action="status", order=order["order"])["status"] in {"Pending", "Processing"}
    assert api(action="cancel", order=order["order"]) == {"cancel": order["order"], "status": "success"}
    assert api(action="balance") == {"balance": "1000.00", "currency": "TRY"}

    # The worker and beat move an order of the fast service through its life while we poll.
    fast = next(s for s in services if "[Fast]" in s["name"])
    order = api(action="add", service=fast["service"], link="https://instagram.com/watched", quantity=100)
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not seen or seen[-1]["status"] != "Completed"):
        seen.append(api(action="status", order=order["order"]))
        time.sleep(0.5)
    assert seen[-1]["status"] == "Completed" and seen[-1]["remains"] == 0, seen
    assert seen[-1]["start_count"] > 0
    assert any(s["status"] == "In progress" and 0 < s["remains"] < 100 for s in seen), seen
    assert [s["remains"] for s in seen] == sorted((s["remains"] for s in seen), reverse=True)

    session = requests.Session()
    login = session.get(f"{base_url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    page = session.post(
        f"{base_url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": password, "next": "/admin/"},
        headers={"Referer": f"{base_url}/admin/login/"},
        timeout=10,
    )
    assert page.status_code == 200 and "SMM Panel" in page.text and "Orders by status" in page.text
    orders_page = session.get(f"{base_url}/admin/orders/order/", timeout=10)
    assert "newcomer" in orders_page.text and "Canceled" in orders_page.text and "Completed" in orders_page.text
