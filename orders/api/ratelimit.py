"""Per-key and per-address rate limits for the reseller API (API.md: "Too many requests").

Fixed-window counters in the Django cache (Redis in production, so every web process shares
them): one counter per (budget, identity, window). Budgets: `add` and reads per valid API key, and
one per client address for calls without a valid key. Limits come from settings at call time
(API_RATE_LIMIT_ADD / _READ / _ANON, "N/s|m|h|d"; empty or 0 turns one off).

Each process takes a budget from the shared counter in **slices** of 1 % of the limit (at least
one call) and spends a slice locally, so a busy key costs one Redis round trip per slice rather
than per call. The counter only ever grows by whole slices, so the calls let through in a window
never exceed the limit; the cost is that slices other processes hold unspent can refuse a call
early (at most one slice per process). Limits under 200 calls a window have one-call slices and
are exact.

A cache that fails must not take the API down with it: the limiter then lets the call through
(fails open) and logs a warning, at most once a minute per process.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
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


def _take(key: str, amount: int, *, timeout: int) -> int:
    """Add `amount` to a window's counter (created with `timeout` seconds to live); its new value."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip: MULTI, SET NX (creates it with its expiry), INCRBY, EXEC — atomic, so the
        # counter never lives without an expiry. Django's add + incr took three (incr checks EXISTS
        # first), ~0.35 ms of a ~2 ms `balance` call (bench/REPORT.md).
        full_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend).pipeline(transaction=True)
        pipe.set(full_key, 0, ex=timeout, nx=True)
        pipe.incrby(full_key, amount)
        return pipe.execute()[1]
    # Other caches (local memory without Redis): add, else incr, both atomic there too.
    if backend.add(key, amount, timeout=timeout):
        return amount
    try:
        return backend.incr(key, amount)
    except ValueError:  # expired between add and incr: this call starts it again
        return amount if backend.add(key, amount, timeout=timeout) else backend.incr(key, amount)


# Calls this process may still let through without asking Redis: window counter key → calls left.
# Only the current windows matter; the dict is emptied when it grows past MAX_SLICES_HELD.
_slices: dict[str, int] = {}
MAX_SLICES_HELD = 10_000
SLICE_FRACTION = 100  # a slice is 1/100 of the limit
_slices_lock = threading.Lock()  # threaded servers (runserver): two threads never spend one call


def _spend_held(key: str) -> bool:
    with _slices_lock:
        left = _slices.get(key, 0)
        if left > 0:
            _slices[key] = left - 1
        return left > 0


def _admit(key: str, number: int, timeout: int) -> bool:
    """Whether one more call fits in the window's budget of `number` calls."""
    if _spend_held(key):
        return True
    size = max(1, number // SLICE_FRACTION)
    counted = _take(key, size, timeout=timeout)
    granted = min(size, number - (counted - size))  # the part of this slice within the limit
    if granted <= 0:
        return False
    if granted > 1:
        with _slices_lock:
            if len(_slices) >= MAX_SLICES_HELD:
                _slices.clear()  # old windows' leftovers, mostly
            _slices[key] = _slices.get(key, 0) + granted - 1
    return True


def _hit(scope: str, identity: str, rate: str | None) -> None:
    """Count one call against a budget; TooManyRequests once it is spent in this window."""
    limit = parse_rate(rate)
    if limit is None:
        return
    number, seconds = limit
    now = _now()
    window = int(now // seconds)
    key = f"api-rl:{scope}:{number}/{seconds}:{identity}:{window}"
    try:
        # The counter outlives its window a little; a window's end is computed, not stored.
        admitted = _admit(key, number, timeout=seconds + 1)
    except Exception as exc:  # noqa: BLE001 - any cache failure: fail open
        _warn_cache_failure(exc)
        return
    if not admitted:
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
