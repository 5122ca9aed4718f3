"""This process's copy of the catalog reads the reseller API repeats, valid for one catalog version.

The version token (CatalogVersion) changes in the same transaction as any write to services,
categories or custom rates, and the API reads it at every call in the statement that looks up the
caller's key (accounts.selectors). So a call that brings a new token drops this copy, and a call
that brings the current one may use it: the database is still asked about the catalog at every
call, just not for rows it has already given this process.

Held per process, in memory: `add` reads one service and one reseller's own prices, `services`
sends ~450 KB of JSON for 2 000 services; from here each costs nothing after its first call, where
a Redis round trip or a query would cost more than the rest of the call.

Rows read after the token may be newer than it (a write committing in between); they are then
kept under a token already superseded, which the next call replaces. Never the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from catalog.models import CustomRate, Service

MAX_ACCOUNTS = 10_000  # resellers whose own prices are held; beyond it the held ones are dropped


@dataclass
class _Snapshot:
    version: str | None
    services: dict[int, Service | None] = field(default_factory=dict)
    own_rates: dict[int, dict[int, Decimal]] = field(default_factory=dict)
    answer: bytes | None = None


_current = _Snapshot(version=None)


def _for(version: str) -> _Snapshot:
    global _current
    snapshot = _current
    if snapshot.version != version:
        snapshot = _current = _Snapshot(version=version)  # one assignment: threads see old or new
    return snapshot


def service(*, service_id: int, version: str) -> Service | None:
    """The active service (without `own_rate`), None when there is none; shared, do not modify."""
    services = _for(version).services
    if service_id not in services:
        services[service_id] = Service.objects.filter(pk=service_id, is_active=True).order_by().first()
    return services[service_id]


def own_rates(*, account_id: int, version: str) -> dict[int, Decimal]:
    """The reseller's own prices by service id (empty for most resellers); shared, do not modify."""
    held = _for(version).own_rates
    if account_id not in held:
        if len(held) >= MAX_ACCOUNTS:
            held.clear()
        held[account_id] = dict(CustomRate.objects.filter(account_id=account_id).values_list("service_id", "rate"))
    return held[account_id]


def services_answer(*, version: str) -> bytes | None:
    """The `services` answer (catalog rates) kept for this version, if any."""
    return _for(version).answer


def keep_services_answer(*, version: str, answer: bytes) -> None:
    _for(version).answer = answer


def forget() -> None:
    """Drop everything held (tests that swap databases under a running process)."""
    global _current
    _current = _Snapshot(version=None)
