"""Per-key and per-address rate limits for the reseller API (API.md: "Too many requests").

Fixed-window counters in the Django cache (Redis in production, so every web process shares
them): one counter per (budget, identity, window), created and bumped in one atomic Redis
transaction (with another cache, by `cache.add` and `cache.incr`). Budgets: `add` and reads per
valid API key, and one per client address for calls without a valid key. Limits come from
settings at call time (API_RATE_LIMIT_ADD / _READ / _ANON, "N/s|m|h|d"; empty or 0 turns one off).

A cache that fails must not take the API down with it: the limiter then lets the call through
(fails open) and logs a warning, at most once a minute per process.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from smmpanel.client_address import client_address
from smmpanel.errors import TooManyRequests
from smmpanel.logs import ThrottledWarning

logger = logging.getLogger("smmpanel.api.ratelimit")
_cache_warning = ThrottledWarning(logger)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """"600/m" → (600, 60); also "10/5s"-style multiples; None for an empty or zero (off) limit."""
    text = (rate or "").strip().lower()
    if not text or text in {"0", "off", "none"}:
        return None
    count, _, period = text.partition("/")
    try:
        number = int(count)
        multiple = int(period[:-1] or 1)
        seconds = multiple * _PERIODS[period[-1:]]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"Invalid API rate limit {rate!r}: expected e.g. '600/m'") from None
    if number <= 0:
        return None
    if seconds <= 0:
        raise ImproperlyConfigured(f"Invalid API rate limit {rate!r}: the period must be above 0")
    return number, seconds


def _now() -> float:
    return time.time()  # a function of its own, so tests can stop the clock


def _warn_cache_failure(exc: BaseException) -> None:
    _cache_warning("API rate limiter disabled: the cache failed (%s: %s); letting calls through",
                   type(exc).__name__, exc)


def _redis_client(backend: RedisCache):
    """The Redis client of this (per-thread) cache backend, made once: Django's get_client builds a
    new redis.Redis around the same connection pool at every call (~0.07 ms of CPU)."""
    client = getattr(backend, "_ratelimit_client", None)
    if client is None:
        client = backend._ratelimit_client = backend._cache.get_client(write=True)  # the primary
    return client


def _count(key: str, *, timeout: int) -> int:
    """Bump a window's counter (created with `timeout` seconds to live) and return its value."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip: MULTI, SET NX (creates it with its expiry), INCR, EXEC — atomic, so the
        # counter never lives without an expiry. Django's add + incr took three (incr checks EXISTS
        # first), ~0.35 ms of a ~2 ms `balance` call (bench/REPORT.md).
        full_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend).pipeline(transaction=True)
        pipe.set(full_key, 0, ex=timeout, nx=True)
        pipe.incr(full_key)
        return pipe.execute()[1]
    # Other caches (local memory without Redis): add, else incr, both atomic there too.
    if backend.add(key, 1, timeout=timeout):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr: this call starts it again
        return 1 if backend.add(key, 1, timeout=timeout) else backend.incr(key)


def _hit(scope: str, identity: str, rate: str | None) -> None:
    """Count one call against a budget; TooManyRequests once it is spent in this window."""
    limit = parse_rate(rate)
    if limit is None:
        return
    number, seconds = limit
    now = _now()
    window = int(now // seconds)
    key = f"api-rl:{scope}:{seconds}:{identity}:{window}"
    try:
        # The counter outlives its window a little; a window's end is computed, not stored.
        count = _count(key, timeout=seconds + 1)
    except Exception as exc:  # noqa: BLE001 - any cache failure: fail open
        _warn_cache_failure(exc)
        return
    if count > number:
        raise TooManyRequests(retry_after=max(1, math.ceil((window + 1) * seconds - now)))


def check_key(key: str, action: str) -> None:
    """A valid key's call: `add` and reads have separate budgets."""
    identity = hashlib.sha256(key.encode()).hexdigest()[:32]  # never the key itself in the cache
    if action == "add":
        _hit("add", identity, settings.API_RATE_LIMIT_ADD)
    else:
        _hit("read", identity, settings.API_RATE_LIMIT_READ)


def check_anonymous(request) -> None:
    """A call without a valid key: counted against its client address."""
    _hit("anon", client_address(request) or "unknown", settings.API_RATE_LIMIT_ANON)
