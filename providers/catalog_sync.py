"""Periodic catalog sync: our provider-backed services follow their provider's catalog.

For each imported service: bounds, flags, type and description are copied; the provider's rate
is kept and our rate recomputed from it — unless an operator set our rate by hand
(`rate_is_manual`); a service gone from the catalog (or no longer sellable here) is paused
(`is_active` off, `paused_by_sync` on), and only services paused that way are un-paused when they
come back — one an operator disabled stays disabled. Every change is a ServiceSyncChange row,
and every rate change also a PriceChange row.

A provider that does not answer (or answers an empty catalog) has its health recorded and
nothing changes. The call happens before the transaction; the writes lock the provider row
first (import does the same), then its services in primary-key order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from catalog.models import PriceChange, Service
from providers.errors import ProviderError
from providers.models import Provider, ServiceSyncChange, SyncChangeKind
from providers.upstream_catalog import catalog_fetch, follow_upstream, resale_rate_for, snapshot_store, upstream_problem
from smmpanel.money import format_rate

logger = logging.getLogger(__name__)

SYNCED_FIELDS = ["type", "min_quantity", "max_quantity", "refill", "cancel", "dripfeed", "description",
                 "provider_rate", "rate", "is_active", "paused_by_sync", "updated_at"]


@dataclass
class SyncReport:
    provider: Provider
    listed: int = 0  # services in the provider's catalog
    updated: int = 0  # our services with fields or provider rate changed
    repriced: int = 0
    paused: int = 0
    unpaused: int = 0
    notes: list[str] = field(default_factory=list)  # what sync could not do (shown, not raised)


def provider_catalog_sync(*, provider_id: int) -> SyncReport:
    """Bring one provider's imported services in line with its catalog. Raises ProviderError when
    the provider does not answer (health recorded, nothing changed). Locks the provider row, then
    its services."""
    provider = Provider.objects.get(pk=provider_id)
    upstream = {service.service_id: service for service in catalog_fetch(provider=provider)}
    now = timezone.now()
    with transaction.atomic():
        provider = Provider.objects.select_for_update().get(pk=provider_id)
        snapshot_store(provider=provider, services=list(upstream.values()))
        report = SyncReport(provider=provider, listed=len(upstream))
        changed, prices, log = [], [], []

        def note(service: Service, kind: str, detail: str) -> None:
            log.append(ServiceSyncChange(provider=provider, service=service, kind=kind, detail=detail[:1000]))

        services = Service.objects.select_for_update().filter(provider=provider).order_by("pk")
        for service in services:
            upstream_service = upstream.get(service.provider_service_id)
            problem = (
                "gone from the provider's catalog" if upstream_service is None else upstream_problem(upstream_service)
            )
            if problem:
                if service.is_active:
                    service.is_active, service.paused_by_sync = False, True
                    note(service, SyncChangeKind.PAUSED, problem)
                    report.paused += 1
                    changed.append(service)
                continue
            followed = follow_upstream(service=service, upstream=upstream_service, provider=provider)
            touched = bool(followed.changes)
            if followed.changes:
                note(service, SyncChangeKind.UPDATED, "; ".join(followed.changes))
                report.updated += 1
            if followed.old_rate is not None:
                reason = f"sync: {provider.name} rate {format_rate(service.provider_rate)} {provider.currency}"
                prices.append(PriceChange(service=service, old_rate=followed.old_rate, new_rate=service.rate,
                                          note=reason[:200]))
                note(service, SyncChangeKind.RATE, f"{format_rate(followed.old_rate)} → {format_rate(service.rate)}")
                report.repriced += 1
                touched = True
            if followed.rate_problem and followed.rate_problem not in report.notes:
                report.notes.append(followed.rate_problem)
            if service.paused_by_sync:
                service.is_active, service.paused_by_sync = True, False
                note(service, SyncChangeKind.UNPAUSED, "listed again")
                report.unpaused += 1
                touched = True
            if touched:
                changed.append(service)
        for service in changed:
            service.updated_at = now
        Service.objects.bulk_update(changed, SYNCED_FIELDS, batch_size=500)
        PriceChange.objects.bulk_create(prices)
        ServiceSyncChange.objects.bulk_create(log)
        Provider.objects.filter(pk=provider_id).update(catalog_synced_at=now)
    return report


def providers_catalog_sync_due() -> list[int]:
    """The providers periodic sync walks: the active ones."""
    return list(Provider.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


def provider_catalog_sync_logged(*, provider_id: int) -> str:
    """Sync one provider for the worker: a failure is logged and reported, not raised (the next
    run retries; the provider's health shows it meanwhile)."""
    try:
        report = provider_catalog_sync(provider_id=provider_id)
    except Provider.DoesNotExist:
        return "gone"
    except ProviderError as exc:
        logger.warning("catalog sync of provider %s failed: %s", provider_id, exc.message)
        return f"failed: {exc.message}"
    summary = (f"{report.listed} listed, {report.updated} updated, {report.repriced} repriced, "
               f"{report.paused} paused, {report.unpaused} un-paused")
    logger.info("catalog sync of %s: %s", report.provider.name, summary)
    return summary


def service_rate_follow(*, service_id: int, actor=None, note: str = "markup changed") -> Service:
    """Recompute a provider-backed service's rate from its stored provider rate (after an operator
    changed its markup or handed its price back to sync); no call to the provider. Locks the row."""
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service_id)
        if service.provider_id is None or service.rate_is_manual or service.provider_rate is None:
            return service
        provider = Provider.objects.get(pk=service.provider_id)
        rate, _problem = resale_rate_for(service=service, provider=provider)
        if rate is not None and rate != service.rate:
            PriceChange.objects.create(service=service, old_rate=service.rate, new_rate=rate, changed_by=actor, note=note)
            ServiceSyncChange.objects.create(provider=provider, service=service, kind=SyncChangeKind.RATE,
                                             detail=f"{format_rate(service.rate)} → {format_rate(rate)} ({note})")
            service.rate = rate
            service.save(update_fields=["rate", "updated_at"])
    return service
