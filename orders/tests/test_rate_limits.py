"""The reseller API's rate limits (orders/api/ratelimit.py; API.md "Too many requests"), over real HTTP.

Tiny limits come from the `settings` fixture: the limiter reads them at call time. The clock is
stopped mid-window, so a test never straddles two windows and `Retry-After` is exact.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from conftest import ApiClient
from orders.api import ratelimit

NOW = 1_800_000_030.0  # 30 s into a minute


@pytest.fixture(autouse=True)
def _fresh_limits(monkeypatch):
    monkeypatch.setattr(ratelimit, "_now", lambda: NOW)
    ratelimit._cache_warning.reset()
    ratelimit._slices.clear()
    cache.clear()
    yield
    ratelimit._slices.clear()
    cache.clear()


def assert_limited(response, retry_after: int = 30):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "Too many requests"}
    assert response.headers["Retry-After"] == str(retry_after)


def test_parse_rate():
    assert ratelimit.parse_rate("600/m") == (600, 60)
    assert ratelimit.parse_rate(" 10/S ") == (10, 1)
    assert ratelimit.parse_rate("5/10m") == (5, 600)
    assert ratelimit.parse_rate("1/d") == (1, 86400)
    assert ratelimit.parse_rate("") is None
    assert ratelimit.parse_rate("0") is None
    for bad in ("600", "x/m", "10/w"):
        with pytest.raises(ImproperlyConfigured):
            ratelimit.parse_rate(bad)


def test_the_read_after_the_budget_is_refused_with_retry_after(api, settings):
    settings.API_RATE_LIMIT_READ = "3/m"
    for _ in range(3):
        response = api.post("balance")
        assert response.json()["balance"], response.text
        assert "Retry-After" not in response.headers
    assert_limited(api.post("balance"))
    assert_limited(api.post("services"))  # all reads share one budget
    assert_limited(api.post("nonsense"))  # so does a call naming no known action (checked after the limit)


def test_add_has_its_own_budget(api, settings):
    settings.API_RATE_LIMIT_READ = "2/m"
    settings.API_RATE_LIMIT_ADD = "2/m"
    api.post("balance"), api.post("balance")
    assert_limited(api.post("balance"))
    for _ in range(2):  # reads spent, adds still allowed (and then checked as usual)
        assert api.post("add", service="999999", link="https://example.com/x", quantity="100").json() == {
            "error": "Service not found"
        }
    assert_limited(api.post("add", service="999999", link="https://example.com/x", quantity="100"))
    assert_limited(api.post("ADD "))  # the action is matched as the handler matches it


def test_another_key_keeps_its_own_budget(api, live_server, settings):
    from accounts.tests.factories import reseller_with_key

    settings.API_RATE_LIMIT_READ = "1/m"
    other = ApiClient(live_server.url, reseller_with_key("bob", Decimal("5")).key)
    api.post("balance")
    assert_limited(api.post("balance"))
    assert other("balance")["balance"]
    assert_limited(other.post("balance"))


def test_calls_without_a_valid_key_are_limited_per_address(api, live_server, settings):
    settings.API_RATE_LIMIT_ANON = "2/m"
    settings.API_RATE_LIMIT_READ = "1000/m"
    guesser = ApiClient(live_server.url, "not-a-key")
    nobody = ApiClient(live_server.url, None)
    assert guesser("balance") == {"error": "Invalid API key"}
    assert nobody("balance") == {"error": "Invalid API key"}
    assert_limited(guesser.post("balance"))
    assert_limited(nobody.post("balance"))
    assert api("balance")["balance"]  # a valid key is counted by its own budget, not the address's


def test_the_window_ends(api, settings, monkeypatch):
    settings.API_RATE_LIMIT_READ = "1/m"
    api.post("balance")
    assert_limited(api.post("balance"))
    monkeypatch.setattr(ratelimit, "_now", lambda: NOW + 30)  # the next minute
    assert api("balance")["balance"]


def test_routine_limits_are_off_when_empty(api, settings):
    settings.API_RATE_LIMIT_READ = ""
    for _ in range(5):
        assert api("balance")["balance"]


# --- shared through a real (private) Redis, and failing open without it -------------------------

@pytest.fixture
def redis_cache(private_redis, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": private_redis.url}
    }
    yield private_redis


def test_the_budget_is_shared_through_redis(api, redis_cache, settings):
    settings.API_RATE_LIMIT_READ = "10/m"
    # Two clients at once; the live server answers each in a thread of its own, each with its own
    # Redis connection: only the shared, atomic counter keeps the total at 10.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: api("balance"), range(24)))
    assert sum("balance" in answer for answer in answers) == 10
    assert sum(answer == {"error": "Too many requests"} for answer in answers) == 14
    client = redis.Redis.from_url(redis_cache.url)
    counters = [key for key in client.keys("*api-rl:read:*")]
    assert len(counters) == 1
    assert int(client.get(counters[0])) == 24
    assert 0 < client.ttl(counters[0]) <= 61


def test_a_busy_key_takes_its_budget_in_slices_and_never_exceeds_it(api, redis_cache, settings):
    """500 calls a window: slices of 5. Three web processes, played by one process that forgets
    the slices it holds when it "switches" process, share one counter."""
    settings.API_RATE_LIMIT_READ = "500/m"
    client = redis.Redis.from_url(redis_cache.url)
    held: list[dict] = [{}, {}, {}]
    admitted = 0
    for call in range(600):
        process = held[call % 3]
        ratelimit._slices.clear()
        ratelimit._slices.update(process)  # this process's leftovers
        try:
            ratelimit.check_key(api.key, "balance")
            admitted += 1
        except ratelimit.TooManyRequests:
            pass
        process.clear()
        process.update(ratelimit._slices)
        if call == 9:
            (counter,) = client.keys("*api-rl:read:*")
            assert int(client.get(counter)) == 15  # three slices taken for 10 calls, not 10 round trips
    left_unspent = sum(sum(process.values()) for process in held)
    assert admitted + left_unspent == 500  # never more than the limit; at most a slice per process unspent
    assert left_unspent <= 3 * 4
    assert int(client.get(counter)) >= 500


def test_a_failing_cache_lets_calls_through_and_warns_once(api, redis_cache, settings, caplog):
    settings.API_RATE_LIMIT_READ = "2/m"
    api.post("balance"), api.post("balance")
    assert_limited(api.post("balance"))
    redis_cache.stop()
    with caplog.at_level(logging.WARNING, logger="smmpanel.api.ratelimit"):
        for _ in range(5):
            assert api("balance")["balance"]  # answered normally, not limited, no error
    warnings = [r for r in caplog.records if r.name == "smmpanel.api.ratelimit"]
    assert len(warnings) == 1, warnings
    assert "letting calls through" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy trusted: the header is the client's to forge
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the forged left entry is ignored
        (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        (2, "203.0.113.9", "203.0.113.9"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_address_behind_trusted_proxies(rf, settings, proxies, forwarded, expected):
    settings.API_TRUSTED_PROXIES = proxies
    request = rf.post("/api/v2", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_address(request) == expected


def test_addresses_behind_a_proxy_have_budgets_of_their_own(db, client, settings):
    settings.API_RATE_LIMIT_ANON = "1/m"
    settings.API_TRUSTED_PROXIES = 1

    def call(address):
        return client.post("/api/v2", {"key": "nope", "action": "balance"}, HTTP_X_FORWARDED_FOR=address).json()

    assert call("203.0.113.1") == {"error": "Invalid API key"}
    assert call("203.0.113.1") == {"error": "Too many requests"}
    assert call("203.0.113.2") == {"error": "Invalid API key"}
