"""Refills: a reseller asks to re-deliver what dropped from a finished order; the tick does it."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, FloatField, Sum, Value
from django.utils import timezone

from accounts.models import Account
from orders import lifecycle, simulation
from orders.models import Refill, RefillStatus
from orders.services.transitions import lock_account_order
from orders.sql import Epoch
from smmpanel.errors import RefillNotAvailable

RUNNING = (RefillStatus.PENDING, RefillStatus.IN_PROGRESS)


def refill_request(*, account: Account, order_id: int) -> Refill:
    """Open a refill of one of this account's finished orders; locks the order.

    Refused (RefillNotAvailable) unless the service allows refills, the order is Completed or
    Partial, within the service's refill days, and has no other refill running.
    """
    with transaction.atomic():
        order = lock_account_order(account_id=account.pk, order_id=order_id)
        service = order.service
        if (
            not service.refill
            or order.status not in lifecycle.REFILLABLE_ORDER_STATUSES
            or timezone.now() - order.created_at > timedelta(days=service.refill_days)
            or order.refills.filter(status__in=RUNNING).exists()
        ):
            raise RefillNotAvailable()
        refilled = order.refills.filter(status=RefillStatus.COMPLETED).aggregate(n=Sum("quantity"))["n"] or 0
        dropped = simulation.dropped_units(delivered=order.quantity - order.remains, drop_percent=service.drop_percent)
        if order.provider_id is not None and not order.provider_order_id:
            raise RefillNotAvailable()
        try:
            # The partial unique index on running refills backs up the check above.
            refill = Refill.objects.create(
                order=order,
                account_id=account.pk,
                # A forwarded order's refill is the provider's: it knows what dropped, we do not.
                quantity=0 if order.provider_id else max(0, dropped - refilled),
                sim_speed=service.speed_per_minute,
            )
        except IntegrityError as exc:
            raise RefillNotAvailable() from exc
        if order.provider_id is not None:
            transaction.on_commit(partial(_send_refill, refill.pk), robust=True)
        return refill


def _send_refill(refill_id: int) -> None:
    from providers.tasks import refill_forward  # providers import the order services

    refill_forward.apply_async((refill_id,), retry=False)


def refills_move(queryset, *, old: str, new: str, **changes) -> int:
    """Move the refills of `queryset` that are `old` to `new`, refusing a move the table lacks."""
    if new not in lifecycle.REFILL_TRANSITIONS[old]:
        raise ValueError(f"A refill cannot move from {old} to {new}")
    return queryset.filter(status=old).update(status=new, **changes)


def refills_advance(*, now: datetime | None = None) -> Counter:
    """The tick's refill step, set-based: reject those with nothing to re-deliver, start the
    others, and complete those whose re-delivery time (quantity at the service speed) has passed.
    """
    now = now or timezone.now()
    counts: Counter = Counter()
    with transaction.atomic():
        # Refills of provider-backed orders mirror the provider's refill (providers.passon).
        simulated = Refill.objects.filter(order__provider__isnull=True)
        pending = simulated.filter(status=RefillStatus.PENDING)
        counts["refills_rejected"] = refills_move(
            pending.filter(quantity=0), old=RefillStatus.PENDING, new=RefillStatus.REJECTED,
            reason="nothing dropped since the order finished", updated_at=now,
        )
        counts["refills_started"] = refills_move(
            pending, old=RefillStatus.PENDING, new=RefillStatus.IN_PROGRESS, deliver_from=now, updated_at=now
        )
        # Done when quantity / speed minutes have passed since it started (the engine's minute).
        minute = Value(float(settings.FULFILLMENT_MINUTE_SECONDS), output_field=FloatField())
        done = simulated.filter(status=RefillStatus.IN_PROGRESS).alias(
            finishes_at=Epoch(F("deliver_from")) + F("quantity") * minute / F("sim_speed")
        ).filter(finishes_at__lte=now.timestamp())
        counts["refills_completed"] = refills_move(
            done, old=RefillStatus.IN_PROGRESS, new=RefillStatus.COMPLETED, updated_at=now
        )
    return +counts


def refill_finish(*, refill_id: int, status: str, reason: str = "") -> bool:
    """An operator ends a running refill (Completed or Rejected) through the refill table; locks it.
    False when it is not running any more (a repeat is a no-op)."""
    with transaction.atomic():
        refill = Refill.objects.select_for_update().filter(pk=refill_id, status__in=RUNNING).first()
        if refill is None:
            return False
        if status not in lifecycle.REFILL_TRANSITIONS[refill.status]:
            raise RefillNotAvailable(f"A refill cannot move from {refill.status} to {status}")
        refill.status, refill.reason = status, reason or refill.reason
        refill.save(update_fields=["status", "reason", "updated_at"])
    return True
