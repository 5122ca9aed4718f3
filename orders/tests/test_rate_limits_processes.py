"""The rate limiter (orders/api/ratelimit.py) between real server processes: two gunicorns with
production settings share one budget through one private Redis; and a Redis that hangs (paused
with SIGSTOP: connections are accepted, nothing answers) costs each call no more than the cache's
socket timeouts before the limiter fails open.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import redis
import requests

from orders.models import Order
from orders.tests.live_processes import ROOT, Processes, database_url, private_redis  # noqa: F401
from smmpanel.tests.stack import production_env, start_gunicorn

pytestmark = pytest.mark.postgres


def within_one_window(seconds: int, margin: float = 10.0) -> None:
    """Fixed windows start again every `seconds`: with less than `margin` left in this one, wait
    for the next, so a test's calls are all counted in one window (the limiter's clock is time.time)."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.1)


def call(base: str, key: str, action: str = "balance", **fields) -> requests.Response:
    response = requests.post(f"{base}/api/v2", data={"key": key, "action": action, **fields}, timeout=20)
    assert response.status_code == 200, response.text
    return response


def test_two_servers_spend_one_budget_through_one_redis(transactional_db, private_redis, tmp_path):
    from accounts.tests.factories import reseller_with_key

    key = reseller_with_key("alice", Decimal("100")).key
    group = Processes(tmp_path=tmp_path, env={})
    try:
        bases = []
        for name in ("web-a", "web-b"):
            env = production_env("web", database_url=database_url(), redis_url=private_redis.url,
                                 var_dir=tmp_path / name, API_RATE_LIMIT_READ="10/m")
            bases.append(start_gunicorn(group, env, name=name)[1])
        first, second = bases

        within_one_window(60)
        answers = [call(first, key) for _ in range(6)] + [call(second, key) for _ in range(6)]
    finally:
        group.stop_all()
    assert not any(process.alive() for process in group.started)

    assert [a.json() for a in answers[:10]] == [{"balance": "100.00", "currency": "TRY"}] * 10
    for limited in answers[10:]:
        assert limited.json() == {"error": "Too many requests"}
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert all("Retry-After" not in a.headers for a in answers[:10])
    # One counter, in the shared Redis, counted by both servers.
    client = redis.Redis.from_url(private_redis.url)
    counters = client.keys("*api-rl:read:*")
    assert len(counters) == 1 and int(client.get(counters[0])) == 12


def test_a_hung_redis_cache_fails_open_after_the_socket_timeouts(transactional_db, private_redis, tmp_path):
    from accounts.tests.factories import reseller_with_key
    from catalog.tests.factories import ServiceFactory

    reseller = reseller_with_key("alice", Decimal("100"))
    service = ServiceFactory(rate=Decimal("5"))
    # Redis as the cache only (the broker stays the embedded one): the rate limiter is what asks it.
    env = production_env("web", database_url=database_url(), redis_url=None, var_dir=tmp_path / "var",
                         CACHE_URL=private_redis.url, CACHE_SOCKET_CONNECT_TIMEOUT="0.25", CACHE_SOCKET_TIMEOUT="0.25")
    group = Processes(tmp_path=tmp_path, env={})
    try:
        web, base = start_gunicorn(group, env, workers=1)
        assert call(base, reseller.key).json() == {"balance": "100.00", "currency": "TRY"}  # Redis answers

        private_redis.pause()
        # Without socket timeouts each call would wait for redis-py's default (5 s per read), and a
        # hung Redis would hold every gunicorn worker: with them, the calls are answered as usual.
        assert call(base, reseller.key).json() == {"balance": "100.00", "currency": "TRY"}
        answer = call(base, reseller.key, "add", service=service.pk, link="https://instagram.com/hung", quantity=1000)
        assert Order.objects.filter(pk=answer.json()["order"]).exists()
        warnings = [json.loads(line) for line in web.log().splitlines()
                    if line.startswith("{") and "letting calls through" in line]
        assert len(warnings) == 1, warnings  # once a minute per process
        assert warnings[0]["level"] == "WARNING" and warnings[0]["logger"] == "smmpanel.api.ratelimit"
        assert "TimeoutError" in warnings[0]["message"], warnings[0]
    finally:
        private_redis.resume()
        group.stop_all()
    assert not web.alive()


def test_cache_socket_timeouts_default_to_half_a_second_and_are_configurable(tmp_path):
    def options(**env) -> dict:
        code = "from django.conf import settings; import json; print(json.dumps(settings.CACHES['default']))"
        done = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, check=True, text=True,
            capture_output=True,
            env={"DJANGO_SETTINGS_MODULE": "smmpanel.settings", "SECRET_KEY": "x", "DATABASE_URL": "sqlite://:memory:",
                 "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING", **env},
        )
        return json.loads(done.stdout.splitlines()[-1])

    assert options(REDIS_URL="redis://127.0.0.1:1/0")["OPTIONS"] == {
        "socket_connect_timeout": 0.5, "socket_timeout": 0.5,
    }
    assert options(CACHE_URL="redis://127.0.0.1:1/0", CACHE_SOCKET_CONNECT_TIMEOUT="0.3",
                   CACHE_SOCKET_TIMEOUT="0.2")["OPTIONS"] == {"socket_connect_timeout": 0.3, "socket_timeout": 0.2}
    assert "OPTIONS" not in options()  # local memory: no sockets
