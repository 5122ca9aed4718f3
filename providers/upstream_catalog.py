"""A provider's catalog as we read it: fetching it, keeping the snapshot, and what one upstream
service means for one of ours (fields copied, price computed, reasons it cannot be sold).

Shared by import (providers.catalog_import) and sync (providers.catalog_sync). Nothing here
calls the provider inside a transaction: `catalog_fetch` refuses to, and the writes
(`snapshot_store`, `follow_upstream` on rows the caller locked) run in the caller's transaction
after the call returned.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from catalog.models import Platform, Service
from providers.client import UpstreamService, client_for
from providers.errors import ProviderError, ProviderTemporaryError
from providers.models import Provider, ProviderService
from providers.pricing import resale_rate
from providers.services import provider_health_record
from smmpanel.money import format_rate, to_rate

# Column limits: Service.rate has 16 digits with 6 places, the provider's rate 20 with 6.
MAX_RATE = Decimal(10) ** 10
MAX_PROVIDER_RATE = Decimal(10) ** 14
NAME_LENGTH = Service._meta.get_field("name").max_length
ID_LENGTH = ProviderService._meta.get_field("upstream_id").max_length
CATEGORY_LENGTH = 200
UNCATEGORIZED = "Uncategorized"

# Words in a category name that give its platform away; the first match wins, in this order
# ("YouTube" before "Twitter": some categories say "YouTube views from Twitter ads").
PLATFORM_WORDS: tuple[tuple[Platform, re.Pattern[str]], ...] = tuple(
    (platform, re.compile(pattern, re.IGNORECASE))
    for platform, pattern in (
        (Platform.INSTAGRAM, r"insta|\big\b|reels?\b"),
        (Platform.TIKTOK, r"tik ?tok"),
        (Platform.YOUTUBE, r"you ?tube|\byt\b|shorts\b"),
        (Platform.TWITTER, r"twitter|tweet|\bx\b|\bx\.com"),
        (Platform.FACEBOOK, r"facebook|\bfb\b"),
        (Platform.TELEGRAM, r"telegram|\btg\b"),
        (Platform.SPOTIFY, r"spotify"),
        (Platform.WEBSITE, r"website|web traffic|\btraffic\b|\bseo\b"),
    )
)


def guess_platform(category: str) -> Platform:
    """The platform a category name suggests, else Other (operators can change it in admin)."""
    for platform, words in PLATFORM_WORDS:
        if words.search(category):
            return platform
    return Platform.OTHER


def category_name(upstream: UpstreamService) -> str:
    return (upstream.category.strip() or UNCATEGORIZED)[:CATEGORY_LENGTH]


def catalog_fetch(*, provider: Provider) -> list[UpstreamService]:
    """The provider's `services` answer, one entry per id (the first, when a panel repeats one).

    Records the call's health. Raises ProviderError; an empty catalog counts as an error too: a
    panel that lists nothing is far more often broken for a moment than emptied, and taking it at
    its word would pause every service we resell from it.
    """
    if connection.in_atomic_block:
        raise RuntimeError("a provider is called outside any transaction: it would hold locks while waiting")
    try:
        services = client_for(provider).services()
        if not services:
            raise ProviderTemporaryError(f"{provider.name}: `services`: the catalog is empty; nothing changed")
    except ProviderError as exc:
        provider_health_record(provider_id=provider.pk, error=exc)
        raise
    provider_health_record(provider_id=provider.pk)
    unique: dict[str, UpstreamService] = {}
    for service in services:
        # A rate beyond our columns cannot be priced: left out, like an entry without a rate.
        if to_rate(service.rate) < MAX_PROVIDER_RATE and len(service.service_id) <= ID_LENGTH:
            unique.setdefault(service.service_id, service)
    return list(unique.values())


def snapshot_store(*, provider: Provider, services: list[UpstreamService]) -> None:
    """Keep the fetched catalog in ProviderService: new ids added, known ones updated, the ones
    missing from this answer marked unlisted (kept, so "gone" differs from "never seen")."""
    now = timezone.now()
    known = {row.upstream_id: row for row in ProviderService.objects.filter(provider=provider)}
    new, changed = [], []
    for upstream in services:
        values = {
            "name": upstream.name[:500], "category": upstream.category[:500], "type": upstream.type[:100],
            "rate": to_rate(upstream.rate), "min_quantity": upstream.min_quantity,
            "max_quantity": upstream.max_quantity, "refill": upstream.refill, "cancel": upstream.cancel,
            "dripfeed": upstream.dripfeed, "description": upstream.description, "is_listed": True,
            "last_seen_at": now,
        }
        row = known.pop(upstream.service_id, None)
        if row is None:
            new.append(ProviderService(provider=provider, upstream_id=upstream.service_id, **values))
        else:
            for field, value in values.items():
                setattr(row, field, value)
            changed.append(row)
    ProviderService.objects.bulk_create(new, batch_size=1000)
    ProviderService.objects.bulk_update(changed, [*SNAPSHOT_FIELDS, "is_listed", "last_seen_at"], batch_size=1000)
    gone = [row.pk for row in known.values() if row.is_listed]
    ProviderService.objects.filter(pk__in=gone).update(is_listed=False)


SNAPSHOT_FIELDS = ("name", "category", "type", "rate", "min_quantity", "max_quantity", "refill", "cancel", "dripfeed",
                   "description")


def upstream_problem(upstream: UpstreamService) -> str | None:
    """Why this upstream service cannot be sold here, or None."""
    if upstream.service_type is None:
        return f"type {upstream.type!r} is not offered here"
    if upstream.max_quantity < max(upstream.min_quantity, 1):
        return f"bounds {upstream.min_quantity}–{upstream.max_quantity} allow no order"
    return None


def upstream_fields(upstream: UpstreamService) -> dict[str, object]:
    """Our service's fields that follow the provider's (everything but name, category and price)."""
    return {
        "type": upstream.service_type,
        "min_quantity": max(upstream.min_quantity, 1),  # our catalog sells at least one unit
        "max_quantity": upstream.max_quantity,
        "refill": upstream.refill,
        "cancel": upstream.cancel,
        "dripfeed": upstream.dripfeed,
        "description": upstream.description,
    }


FIELD_LABELS = {
    "type": "type", "min_quantity": "min", "max_quantity": "max", "refill": "refill", "cancel": "cancel",
    "dripfeed": "drip-feed", "description": "description",
}


@dataclass(frozen=True)
class Followed:
    changes: list[str]  # what changed, as operators read it
    old_rate: Decimal | None  # the rate before, when our rate changed
    rate_problem: str | None = None  # why our rate could not follow (shown, never raised)


def service_markup(service: Service, provider: Provider) -> Decimal:
    return provider.default_markup_percent if service.markup_percent is None else service.markup_percent


def follow_upstream(*, service: Service, upstream: UpstreamService, provider: Provider) -> Followed:
    """Copy the upstream service's fields and price onto ours (in memory; the caller saves).

    Our rate is the provider's × exchange rate × markup unless an operator set it by hand
    (`rate_is_manual`), or while the provider's exchange rate is unknown (then it stays).
    """
    changes = []
    for field, value in upstream_fields(upstream).items():
        old = getattr(service, field)
        if old != value:
            if service.pk is not None:
                shown = "changed" if field == "description" else f"{_text(old)} → {_text(value)}"
                changes.append(f"{FIELD_LABELS[field]} {shown}")
            setattr(service, field, value)
    provider_rate = to_rate(upstream.rate)
    if service.provider_rate != provider_rate:
        if service.provider_rate is not None:
            kept = f" (hand-set rate {format_rate(service.rate)} kept)" if service.rate_is_manual else ""
            changes.append(
                f"provider rate {format_rate(service.provider_rate)} → {format_rate(provider_rate)} {provider.currency}{kept}"
            )
        service.provider_rate = provider_rate
    old_rate, problem = service.rate, None
    if not service.rate_is_manual:
        new_rate, problem = resale_rate_for(service=service, provider=provider)
        if new_rate is not None:
            service.rate = new_rate
    changed_rate = old_rate if old_rate is not None and old_rate != service.rate else None
    return Followed(changes=changes, old_rate=changed_rate, rate_problem=problem)


def resale_rate_for(*, service: Service, provider: Provider) -> tuple[Decimal | None, str | None]:
    """Our rate for a provider-backed service from its stored provider rate, or why there is none."""
    exchange_rate = provider.panel_exchange_rate
    if exchange_rate is None:
        return None, f"{provider.name} is in {provider.currency} and its exchange rate is not set"
    rate = resale_rate(provider_rate=service.provider_rate, exchange_rate=exchange_rate,
                       markup_percent=service_markup(service, provider))
    if rate >= MAX_RATE:
        return None, f"our rate {rate} would be too large"
    return rate, None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
