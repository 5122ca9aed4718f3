"""The `services` answer as JSON bytes kept in the cache, so a call sends stored bytes instead of
building 2 000 model rows and rendering them (~70 ms of CPU for such a catalog, bench/REPORT.md).

- **Key**: the catalog's version token (catalog.selectors.catalog_version), which database
  triggers change in the same transaction as any write to services, categories or custom rates,
  whatever made it (admin, `queryset.update()`, bulk changes, commands, provider sync, raw SQL).
  Every process reads the token at every call (the API reads it with the caller's key, in the same
  statement): a change is seen by all of them at once, and the entries of old tokens simply expire.
- **Two levels**: the bytes of the current version are also held in this process's memory
  (catalog/snapshot.py), so a call usually sends them without even a cache round trip; a process
  that has not seen this version yet takes them from the shared cache; the first of all builds them.
- **Own prices**: the shared answer is rendered with the catalog rates; a reseller with custom
  rates gets it patched in place (their rate strings swapped in), so no answer is stored per reseller.
- **Fails open**: when the cache raises, the answer is built from the database as before (and a
  warning is logged, at most once a minute per process).

The bytes are exactly what DRF's JSONRenderer made of the same payload before this cache existed.
"""
from __future__ import annotations

import logging
import re
from decimal import Decimal

from django.core.cache import cache
from rest_framework.renderers import JSONRenderer

from catalog import snapshot
from catalog.selectors import catalog_version, custom_rates, services_for_sale
from orders.api.formatting import service_payload
from smmpanel.logs import ThrottledWarning
from smmpanel.money import format_rate

logger = logging.getLogger("smmpanel.api.services")
_cache_warning = ThrottledWarning(logger)
CACHE_SECONDS = 3600  # only frees old versions: a version's answer never goes stale

# Where each entry starts. The answer is compact JSON written by us, so `{"service":` can only be an
# entry's start: inside a string every `"` is escaped. Likewise the first `,"rate":"` after it is its rate.
_ENTRY = re.compile(rb'\{"service":(\d+),')
_RATE = b',"rate":"'


def services_answer(*, account_id: int, catalog_version: str | None) -> bytes:
    """The `services` answer for this reseller, as JSON bytes. `catalog_version`: the catalog's
    version token as the caller just read it (None: there is none; built from the database)."""
    if catalog_version is None:
        shared, own = render_services(), custom_rates(account_id=account_id)
    else:
        shared = snapshot.services_answer(version=catalog_version)
        if shared is None:
            shared = _shared_answer(catalog_version)
            snapshot.keep_services_answer(version=catalog_version, answer=shared)
        own = snapshot.own_rates(account_id=account_id, version=catalog_version)
    return _with_own_rates(shared, own) if own else shared


def render_services() -> bytes:
    """The answer with the catalog's rates, from the database."""
    return JSONRenderer().render([service_payload(service) for service in services_for_sale()])


def _cache_key(version: str) -> str:
    return f"api-services:{version}"


def _shared_answer(version: str) -> bytes:
    try:
        cached = cache.get(_cache_key(version))
    except Exception as exc:  # noqa: BLE001 - any cache failure: serve from the database
        _warn_cache_failure(exc)
        return render_services()
    if cached is not None:
        return cached
    content = render_services()
    # Stored only if no write committed while it was built: then it is exactly this version's answer.
    if catalog_version() == version:
        try:
            cache.set(_cache_key(version), content, CACHE_SECONDS)
        except Exception as exc:  # noqa: BLE001
            _warn_cache_failure(exc)
    return content


def _with_own_rates(shared: bytes, own: dict[int, Decimal]) -> bytes:
    """`shared` with this reseller's own rate in the entries of the services it has one for."""
    parts, done = [], 0
    for entry in _ENTRY.finditer(shared):
        rate = own.get(int(entry[1]))
        if rate is None:
            continue
        start = shared.index(_RATE, entry.end()) + len(_RATE)
        parts += (shared[done:start], format_rate(rate).encode())
        done = shared.index(b'"', start)
    parts.append(shared[done:])
    return b"".join(parts)


def _warn_cache_failure(exc: BaseException) -> None:
    _cache_warning("API services cache unavailable (%s: %s); answering from the database", type(exc).__name__, exc)
