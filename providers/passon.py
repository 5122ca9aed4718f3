"""Cancels and refills of forwarded orders, passed on to the provider; refills mirrored back.

As everywhere with providers: read, commit, call the provider outside any transaction, record.

- Cancel: the reseller's cancel only marks the order (`provider_cancel_requested_at`, see
  orders.services.canceling); `order_cancel_pass_on` sends it (a task after commit) and marks
  the provider's acceptance (`provider_cancel_sent_at`); `cancels_resend` sends again the ones
  not accepted after a while. Accepted means asked: the order
  becomes Canceled, and is refunded, when polling sees the provider's Canceled.
- Refill: the local Refill is claimed (`provider_submitted_at`, a conditional UPDATE), sent, and
  the provider's refill id stored; `refills_poll` mirrors its status through the refill table.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from orders.models import ACTIVE_STATUSES, Order, OrderEvent, Refill, RefillStatus
from orders.services.refills import refills_move
from providers.client import client_for
from providers.errors import ProviderError, ProviderTemporaryError
from providers.forwarding import provider_actor
from providers.services import provider_health_record

RUNNING = (RefillStatus.PENDING, RefillStatus.IN_PROGRESS)
REFILL_POLL_LIMIT = 100  # refill_status is one call per refill
CANCEL_RESEND_AFTER = timedelta(minutes=5)  # longer than the cancel task's own retries take
CANCEL_RESEND_LIMIT = 100
REASON_LENGTH = Refill._meta.get_field("reason").max_length


def _outside_transactions() -> None:
    if connection.in_atomic_block:
        raise RuntimeError("this calls a provider: it must run outside any transaction")


def order_cancel_pass_on(*, order_id: int) -> str:
    """Ask the provider to cancel a forwarded order whose cancel a reseller requested.

    Returns `accepted`, `refused` (the provider said no: the request is dropped, so the reseller
    may ask again) or `skipped`. Raises ProviderTemporaryError to be retried later.
    """
    _outside_transactions()
    order = Order.objects.select_related("provider").filter(
        pk=order_id, provider_order_id__isnull=False, provider_cancel_requested_at__isnull=False,
        status__in=ACTIVE_STATUSES,
    ).first()
    if order is None:
        return "skipped"
    provider = order.provider
    try:
        answer = client_for(provider).cancel([order.provider_order_id])[0]
    except ProviderError as exc:
        provider_health_record(provider_id=provider.pk, error=exc)
        if isinstance(exc, ProviderTemporaryError):
            raise
        answer = None
        error = exc.provider_message or exc.message
    else:
        provider_health_record(provider_id=provider.pk)
        error = answer.error
    accepted = answer is not None and answer.accepted
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if accepted:
            locked.provider_cancel_sent_at = timezone.now()
            locked.save(update_fields=["provider_cancel_sent_at", "updated_at"])
        elif locked.provider_cancel_sent_at is None:  # a repeat refused after an accepted one changes nothing
            locked.provider_cancel_requested_at = None
            locked.save(update_fields=["provider_cancel_requested_at", "updated_at"])
        OrderEvent.objects.create(
            order=locked, old_status=locked.status, new_status=locked.status, actor=provider_actor(provider),
            reason=("provider accepted the cancel; canceled when it reports so" if accepted
                    else f"provider refused the cancel: {error or 'no reason given'}")[:500],
        )
    return "accepted" if accepted else "refused"


def cancels_resend(*, now: datetime | None = None) -> dict[str, int]:
    """Send again the requested cancels the provider has not accepted yet — their task was lost
    with the broker, or gave up while the provider was down. Asking twice is harmless: a provider
    that already cancels answers so, or refuses, which changes nothing once one was accepted."""
    _outside_transactions()
    now = now or timezone.now()
    counts: Counter = Counter()
    due = Order.objects.filter(
        provider_cancel_requested_at__lt=now - CANCEL_RESEND_AFTER, provider_cancel_sent_at__isnull=True,
        provider_order_id__isnull=False, status__in=ACTIVE_STATUSES,
    ).order_by("provider_cancel_requested_at").values_list("pk", flat=True)[:CANCEL_RESEND_LIMIT]
    for order_id in list(due):
        try:
            counts[f"cancels_{order_cancel_pass_on(order_id=order_id)}"] += 1
        except ProviderTemporaryError:
            counts["cancel_errors"] += 1
    return dict(+counts)


def refill_forward(*, refill_id: int, now: datetime | None = None) -> str:
    """Pass a Pending refill of a forwarded order on to the provider; store its refill id.

    `sent`, `skipped` (not ours to send, or claimed by another worker), `retry` (nothing reached
    the provider — the claim is released and refills_poll sends it again) or `rejected`.
    """
    _outside_transactions()
    now = now or timezone.now()
    refill = Refill.objects.select_related("order__provider").filter(
        pk=refill_id, status=RefillStatus.PENDING, provider_refill_id__isnull=True,
        order__provider__isnull=False, order__provider_order_id__isnull=False,
    ).first()
    if refill is None:
        return "skipped"
    claimed = Refill.objects.filter(pk=refill_id, provider_submitted_at__isnull=True).update(
        provider_submitted_at=now, updated_at=now
    )
    if not claimed:
        return "skipped"
    provider = refill.order.provider
    try:
        upstream_id = client_for(provider).refill(refill.order.provider_order_id)
    except ProviderError as exc:
        provider_health_record(provider_id=provider.pk, error=exc)
        if isinstance(exc, ProviderTemporaryError):
            Refill.objects.filter(pk=refill_id, provider_submitted_at=now).update(provider_submitted_at=None)
            return "retry"
        Refill.objects.filter(pk=refill_id, status=RefillStatus.PENDING).update(
            status=RefillStatus.REJECTED, updated_at=timezone.now(),
            reason=f"provider: {exc.provider_message or exc.message}"[:REASON_LENGTH],
        )
        return "rejected"
    provider_health_record(provider_id=provider.pk)
    Refill.objects.filter(pk=refill_id).update(provider_refill_id=upstream_id, updated_at=timezone.now())
    return "sent"


def _refill_move(refill_id: int, old: str, new: str, **changes) -> int:
    return refills_move(Refill.objects.filter(pk=refill_id), old=old, new=new, **changes)


def refills_poll(*, now: datetime | None = None) -> dict[str, int]:
    """Mirror the provider's status of passed-on refills, and send again the ones whose send failed."""
    _outside_transactions()
    now = now or timezone.now()
    counts: Counter = Counter()
    unsent = Refill.objects.filter(
        status=RefillStatus.PENDING, provider_refill_id__isnull=True, provider_submitted_at__isnull=True,
        order__provider__isnull=False, updated_at__lt=now - timedelta(seconds=settings.FULFILLMENT_TICK_SECONDS),
    ).values_list("pk", flat=True)[:REFILL_POLL_LIMIT]
    for refill_id in list(unsent):
        counts[f"refills_{refill_forward(refill_id=refill_id, now=now)}"] += 1
    sent = (
        Refill.objects.select_related("order__provider")
        .filter(status__in=RUNNING, provider_refill_id__isnull=False)
        .order_by(F("provider_checked_at").asc(nulls_first=True), "pk")[:REFILL_POLL_LIMIT]
    )
    for refill in list(sent):
        provider = refill.order.provider
        try:
            upstream = client_for(provider).refill_status(refill.provider_refill_id)
        except ProviderError as exc:
            provider_health_record(provider_id=provider.pk, error=exc)
            counts["refill_errors"] += 1
            continue
        Refill.objects.filter(pk=refill.pk).update(provider_checked_at=now)
        said = upstream.status
        if said in (RefillStatus.IN_PROGRESS, RefillStatus.COMPLETED):
            _refill_move(refill.pk, RefillStatus.PENDING, RefillStatus.IN_PROGRESS, deliver_from=now, updated_at=now)
        if said == RefillStatus.COMPLETED:
            counts["refills_completed"] += _refill_move(
                refill.pk, RefillStatus.IN_PROGRESS, RefillStatus.COMPLETED, updated_at=now
            )
        elif said == RefillStatus.REJECTED or upstream.error:
            reason = f"provider: {upstream.error or upstream.raw_status}"[:REASON_LENGTH]
            for old in RUNNING:
                counts["refills_rejected"] += _refill_move(
                    refill.pk, old, RefillStatus.REJECTED, reason=reason, updated_at=now
                )
    return dict(+counts)
