"""Importing a provider's services into our catalog: the operator picks them (or takes them all),
we create or update one local service per upstream service, priced with a markup.

Order of work: refuse early what needs no call (unknown provider, unknown exchange rate, a bad
markup); call the provider (no transaction open); then one transaction that locks the provider
row — so an import and a sync of the same provider never interleave — stores the snapshot and
writes the services, their price history and the sync log.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from catalog.models import Category, PriceChange, Service
from providers.client import UpstreamService
from providers.models import Provider, ServiceSyncChange, SyncChangeKind
from providers.upstream_catalog import (
    NAME_LENGTH,
    catalog_fetch,
    category_name,
    follow_upstream,
    guess_platform,
    snapshot_store,
    upstream_problem,
)
from providers.pricing import resale_rate
from smmpanel.errors import DomainError
from smmpanel.money import format_rate, to_rate


@dataclass(frozen=True)
class ImportedService:
    upstream_id: str
    service_id: int
    name: str
    rate: Decimal
    provider_rate: Decimal


@dataclass(frozen=True)
class SkippedService:
    upstream_id: str
    reason: str


@dataclass
class ImportReport:
    provider: Provider
    created: list[ImportedService] = field(default_factory=list)
    updated: list[ImportedService] = field(default_factory=list)
    skipped: list[SkippedService] = field(default_factory=list)


def provider_get(*, name: str | None = None, provider_id: int | None = None) -> Provider:
    """A provider by name or id, or a DomainError naming what was asked for."""
    try:
        return Provider.objects.get(name=name) if provider_id is None else Provider.objects.get(pk=provider_id)
    except Provider.DoesNotExist:
        raise DomainError(f"No provider {name if provider_id is None else f'#{provider_id}'}") from None


def import_refusal(*, provider: Provider, markup_percent: Decimal | None = None) -> str | None:
    """Why this provider's services cannot be imported now, or None."""
    if provider.panel_exchange_rate is None:
        return (f"{provider.name} is in {provider.currency}: set its exchange rate (panel currency per "
                f"1 {provider.currency}) before importing")
    if markup_percent is not None and Decimal(markup_percent) <= -100:
        return "The markup must be above -100 %"
    return None


def provider_services_import(
    *,
    provider_id: int,
    upstream_ids: Iterable[str | int] | None = None,
    markup_percent: Decimal | None = None,
    actor=None,
) -> ImportReport:
    """Import the named upstream services (all the provider lists when `upstream_ids` is None); twice
    updates, never duplicates. Raises DomainError (refused) or ProviderError (the call failed).
    Locks the provider row, then its services in primary-key order."""
    provider = provider_get(provider_id=provider_id)
    if refusal := import_refusal(provider=provider, markup_percent=markup_percent):
        raise DomainError(refusal)
    upstream = catalog_fetch(provider=provider)
    by_id = {service.service_id: service for service in upstream}
    # None means "everything listed"; an empty list means nothing, never everything by accident.
    wanted = list(by_id) if upstream_ids is None else list(dict.fromkeys(str(uid).strip() for uid in upstream_ids))
    report = ImportReport(provider=provider)
    chosen: list[UpstreamService] = []
    for uid in wanted:
        problem = "not in the provider's catalog" if uid not in by_id else upstream_problem(by_id[uid])
        if problem:
            report.skipped.append(SkippedService(upstream_id=uid, reason=problem))
        else:
            chosen.append(by_id[uid])

    with transaction.atomic():
        provider = Provider.objects.select_for_update().get(pk=provider_id)
        if refusal := import_refusal(provider=provider):  # changed while we were calling out
            raise DomainError(refusal)
        report.provider = provider
        snapshot_store(provider=provider, services=upstream)
        existing = {
            service.provider_service_id: service
            for service in Service.objects.select_for_update()
            .filter(provider=provider, provider_service_id__in=[u.service_id for u in chosen])
            .order_by("pk")
        }
        categories = _categories(names={category_name(u) for u in chosen if u.service_id not in existing})
        prices, log = [], []
        for upstream_service in chosen:
            service = existing.get(upstream_service.service_id)
            created = service is None
            if created:
                service = Service(
                    provider=provider, provider_service_id=upstream_service.service_id,
                    name=upstream_service.name[:NAME_LENGTH], category=categories[category_name(upstream_service)],
                    markup_percent=markup_percent, rate=None, sort_order=_sort_key(upstream_service.service_id),
                )
            elif markup_percent is not None:
                service.markup_percent = markup_percent
            followed = follow_upstream(service=service, upstream=upstream_service, provider=provider)
            if followed.rate_problem:
                report.skipped.append(SkippedService(upstream_id=upstream_service.service_id, reason=followed.rate_problem))
                continue
            changes = list(followed.changes)
            if followed.old_rate is not None:
                changes.append(f"rate {format_rate(followed.old_rate)} → {format_rate(service.rate)}")
            if service.paused_by_sync:  # listed again: what sync paused comes back
                service.is_active, service.paused_by_sync = True, False
                changes.append("un-paused: listed again")
            service.save()
            if followed.old_rate is not None:
                note = f"import from {provider.name}"
                prices.append(PriceChange(service=service, old_rate=followed.old_rate, new_rate=service.rate,
                                          changed_by=actor, note=note[:200]))
            detail = (
                f"imported from {provider.name} #{upstream_service.service_id} at {format_rate(service.rate)} "
                f"(provider {format_rate(service.provider_rate)} {provider.currency})"
                if created else "; ".join(changes) or "re-imported, nothing changed"
            )
            log.append(ServiceSyncChange(provider=provider, service=service, kind=SyncChangeKind.IMPORTED,
                                         detail=detail[:1000]))
            (report.created if created else report.updated).append(
                ImportedService(upstream_id=upstream_service.service_id, service_id=service.pk, name=service.name,
                                rate=service.rate, provider_rate=service.provider_rate)
            )
        PriceChange.objects.bulk_create(prices)
        ServiceSyncChange.objects.bulk_create(log)
    return report


def _categories(*, names: set[str]) -> dict[str, Category]:
    """Our categories by these names (matched ignoring case: "instagram followers" is the
    operator's "Instagram Followers"), the missing ones created with a guessed platform."""
    by_lower: dict[str, Category] = {}
    for category in Category.objects.order_by("pk"):  # categories are few: read them all once
        by_lower.setdefault(category.name.lower(), category)
    found = {}
    for name in sorted(names):
        found[name] = by_lower.get(name.lower()) or Category.objects.get_or_create(
            name=name, defaults={"platform": guess_platform(name)}
        )[0]
    return found


def _sort_key(upstream_id: str) -> int:
    """Imported services list in the provider's order where its ids are numbers."""
    return int(upstream_id) if upstream_id.isdigit() and len(upstream_id) < 10 else 0


@dataclass(frozen=True)
class PreviewRow:
    upstream: UpstreamService
    problem: str | None  # why it cannot be imported
    service_id: int | None  # ours, when imported already
    rate: Decimal | None  # what we would sell it for at the provider's default markup


def provider_catalog_preview(*, provider_id: int) -> list[PreviewRow]:
    """The provider's catalog fetched now (and kept as the snapshot), each entry with what import
    would do with it. Raises DomainError (refused) or ProviderError (the call failed)."""
    provider = provider_get(provider_id=provider_id)
    if refusal := import_refusal(provider=provider):
        raise DomainError(refusal)
    upstream = catalog_fetch(provider=provider)
    with transaction.atomic():
        snapshot_store(provider=Provider.objects.select_for_update().get(pk=provider_id), services=upstream)
    imported = dict(Service.objects.filter(provider_id=provider_id).values_list("provider_service_id", "pk"))
    rows = []
    for service in sorted(upstream, key=lambda s: (s.category.lower(), _sort_key(s.service_id), s.service_id)):
        problem = upstream_problem(service)
        rate = None if problem else resale_rate(
            provider_rate=to_rate(service.rate), exchange_rate=provider.panel_exchange_rate,
            markup_percent=provider.default_markup_percent,
        )
        rows.append(PreviewRow(upstream=service, problem=problem, service_id=imported.get(service.service_id), rate=rate))
    return rows
