"""Writes to the catalog. Every rate change leaves a PriceChange row saying who, when, old → new.

These are the operator's edits. On a provider-backed service a rate set here becomes
`rate_is_manual` (catalog sync never overwrites it), and enabling or disabling a service takes it
out of sync's hands (`paused_by_sync` off: sync un-pauses only what it paused itself).
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.models import PriceChange, Service
from smmpanel.errors import DomainError
from smmpanel.money import to_rate

MIN_PERCENT, MAX_PERCENT = Decimal(-99), Decimal(1000)


def service_save(*, service: Service, actor=None, note: str = "") -> Service:
    """Save a new or edited service; records a rate change against the stored rate. Locks the row."""
    with transaction.atomic():
        old_rate = None
        if service.pk:
            old_rate, was_active = (
                Service.objects.select_for_update().values_list("rate", "is_active").get(pk=service.pk)
            )
            if was_active != service.is_active:
                service.paused_by_sync = False
        service.rate = to_rate(service.rate)
        if service.provider_id and old_rate is not None and old_rate != service.rate:
            service.rate_is_manual = True
        service.save()
        if old_rate is not None and old_rate != service.rate:
            PriceChange.objects.create(
                service=service, old_rate=old_rate, new_rate=service.rate, changed_by=actor, note=note
            )
    return service


def services_set_active(*, service_ids: Iterable[int], active: bool) -> int:
    """Enable or disable services (never deleted: orders point to them); returns how many changed."""
    return (
        Service.objects.filter(pk__in=list(service_ids)).exclude(is_active=active)
        .update(is_active=active, paused_by_sync=False, updated_at=timezone.now())
    )


def services_reprice(*, service_ids: Iterable[int], percent: Decimal, actor=None) -> int:
    """Change the rates of services by `percent` (e.g. 10 or -5), each logged; locks the rows."""
    if not MIN_PERCENT <= percent <= MAX_PERCENT:
        raise DomainError(f"The change must be between {MIN_PERCENT} % and {MAX_PERCENT} %")
    factor = 1 + percent / 100
    changes = []
    now = timezone.now()
    with transaction.atomic():
        services = Service.objects.select_for_update().filter(pk__in=list(service_ids)).order_by("pk")
        for service in services:
            new_rate = to_rate(service.rate * factor)
            if new_rate != service.rate:
                changes.append(
                    PriceChange(service=service, old_rate=service.rate, new_rate=new_rate, changed_by=actor,
                                note=f"{percent:+} %")
                )
                service.rate, service.updated_at = new_rate, now
                service.rate_is_manual = service.rate_is_manual or service.provider_id is not None
        Service.objects.bulk_update([change.service for change in changes], ["rate", "rate_is_manual", "updated_at"])
        PriceChange.objects.bulk_create(changes)
    return len(changes)
