"""Forwarding: a Pending provider-backed order is submitted to its provider, exactly once.

Three steps, the provider called between two transactions, never inside one (a slow provider
would hold row locks for its timeout):

1. claim — one conditional UPDATE sets `provider_submitted_at` on a Pending order that has no
   hold, no provider id and no claim yet. Two workers cannot both claim it (the second updates 0
   rows), and a reseller's cancel, which locks the order and needs it unclaimed, cannot slip in
   between the claim and the answer (see orders.services.canceling).
2. `add` at the provider, outside any transaction.
3. record the answer in a new transaction: the provider's id and Pending → Processing, or a hold,
   or the claim released (nothing reached the provider) for a later try.

A worker that dies between 1 and 3 leaves a claim without an id. The tick's sweep
(`forwarding_sweep_stale`) holds such orders `needs_checking` after a grace period: the provider
may have the order, so only asking it (an operator, `order_forward_confirm` /
`order_forward_not_placed`) may resolve it — never a blind resend.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.service_types import TYPE_SPECS, QuantityFrom
from orders.models import HoldReason, Order, OrderEvent, OrderStatus
from orders.services.transitions import apply_transition, lock_account, order_hold
from orders.wakeups import wake_after_commit
from providers.client import client_for
from providers.errors import (
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderOutOfFunds,
    ProviderPermanentError,
    ProviderTemporaryError,
)
from providers.models import PermanentErrorPolicy, Provider
from providers.services import provider_health_record
from smmpanel.errors import DomainError, OrderNotFound

logger = logging.getLogger(__name__)
SWEEP_LIMIT = 1000  # stale claims held per tick


def provider_actor(provider: Provider) -> str:
    return f"provider:{provider.name}"


def add_fields(order: Order) -> dict[str, Any]:
    """What `add` sends for this order: quantity per the service type (per run for drip-feed,
    where ours is the total), runs and interval, and the type's own fields as the reseller sent them."""
    spec = TYPE_SPECS.get(order.service.type)
    fields: dict[str, Any] = dict(order.extra or {})
    if spec is None or spec.quantity_from is QuantityFrom.FIELD:
        fields["quantity"] = order.quantity // order.runs if order.runs else order.quantity
    if order.runs:
        fields["runs"], fields["interval"] = order.runs, order.interval
    return fields


def retry_delay(failures: int) -> timedelta:
    """Bounded exponential backoff after a temporary failure: a tick, doubling, at most the setting."""
    base = settings.FULFILLMENT_TICK_SECONDS
    return timedelta(seconds=min(settings.PROVIDER_RETRY_MAX_SECONDS, base * 2 ** min(failures, 20)))


def _claim(*, order_id: int, now: datetime) -> bool:
    due = Q(provider_retry_at__isnull=True) | Q(provider_retry_at__lte=now)
    return bool(
        Order.objects.filter(
            due, pk=order_id, status=OrderStatus.PENDING, hold_reason="",
            provider_submitted_at__isnull=True, provider_order_id__isnull=True, provider__isnull=False,
        ).update(provider_submitted_at=now, attempts=0, updated_at=now)
    )


def _attempt_done(order_id: int) -> None:
    """This task finished without claiming: its attempt (orders.tasks.order_start counts them, to
    park orders whose task keeps dying) does not count against the order."""
    Order.objects.filter(pk=order_id, attempts__gt=0, provider_submitted_at__isnull=True).update(attempts=0)


def _release(*, order_id: int, claimed_at: datetime, **changes) -> int:
    """Drop our claim (the provider definitely has no order): the order may be submitted again."""
    return Order.objects.filter(
        pk=order_id, provider_submitted_at=claimed_at, provider_order_id__isnull=True
    ).update(provider_submitted_at=None, updated_at=timezone.now(), **changes)


def order_forward(*, order_id: int, now: datetime | None = None) -> str:
    """Submit one Pending provider-backed order to its provider (claim, call, record).

    Returns what happened, for logs and tests: `placed`, `waiting` (provider inactive or without
    an exchange rate), `skipped` (not due: claimed, held, canceled …), `retry`, `unknown`,
    `out_of_funds`, `refused`. Safe to call twice: only one call claims the order.
    """
    if connection.in_atomic_block:
        raise RuntimeError("forwarding calls a provider: it must run outside any transaction")
    now = now or timezone.now()
    order = Order.objects.select_related("provider", "service").filter(pk=order_id, provider__isnull=False).first()
    if order is None:
        return "skipped"
    provider = order.provider
    if not provider.is_active or provider.panel_exchange_rate is None:
        _attempt_done(order_id)
        return "waiting"
    if not _claim(order_id=order_id, now=now):
        _attempt_done(order_id)
        return "skipped"
    try:
        upstream_id = client_for(provider).add(
            service_id=order.service.provider_service_id, link=order.link, **add_fields(order)
        )
    except ProviderError as exc:
        provider_health_record(provider_id=provider.pk, error=exc)
        return _record_failure(order=order, provider=provider, claimed_at=now, error=exc)
    provider_health_record(provider_id=provider.pk)
    return _record_placed(order_id=order_id, provider=provider, upstream_id=upstream_id)


def _record_placed(*, order_id: int, provider: Provider, upstream_id: str) -> str:
    actor = provider_actor(provider)
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            order.provider_order_id, order.provider_failures, order.provider_retry_at = upstream_id, 0, None
            # Its acceptance counts as the first check: polling walks orders by this, never NULL.
            order.provider_checked_at = timezone.now()
            fields = ["provider_order_id", "provider_failures", "provider_retry_at", "provider_checked_at"]
            # The sweep may have held it meanwhile (a slow answer): now we know, so the hold goes.
            if order.status == OrderStatus.PENDING and order.hold_reason in ("", HoldReason.NEEDS_CHECKING):
                order.hold_reason = ""
                apply_transition(
                    order=order, new_status=OrderStatus.PROCESSING, actor=actor,
                    reason=f"accepted by provider as #{upstream_id}", also_save=[*fields, "hold_reason"],
                )
            else:
                order.save(update_fields=[*fields, "updated_at"])
    except IntegrityError:
        # Another order of ours already mirrors this upstream id: refunding both would pay twice.
        logger.error("Provider %s answered order %s with an id already in use: %s", provider.name, order_id, upstream_id)
        order_hold(
            order_id=order_id, hold_reason=HoldReason.NEEDS_CHECKING, actor=actor,
            reason=f"provider answered with order id {upstream_id}, which another order already has",
        )
        return "unknown"
    return "placed"


def _record_failure(*, order: Order, provider: Provider, claimed_at: datetime, error: ProviderError) -> str:
    actor = provider_actor(provider)
    if isinstance(error, ProviderOutcomeUnknown):
        # The provider may have the order: keep the claim, so nothing submits it again.
        order_hold(order_id=order.pk, hold_reason=HoldReason.NEEDS_CHECKING, reason=error.message, actor=actor)
        return "unknown"
    if isinstance(error, ProviderOutOfFunds):
        with transaction.atomic():
            _release(order_id=order.pk, claimed_at=claimed_at)
            order_hold(order_id=order.pk, hold_reason=HoldReason.PROVIDER_OUT_OF_FUNDS, reason=error.message, actor=actor)
        return "out_of_funds"
    if isinstance(error, ProviderPermanentError):
        if provider.on_permanent_error == PermanentErrorPolicy.CANCEL:
            _cancel_refused(order_id=order.pk, claimed_at=claimed_at, error=error, actor=actor)
        else:
            with transaction.atomic():
                _release(order_id=order.pk, claimed_at=claimed_at)
                order_hold(order_id=order.pk, hold_reason=HoldReason.NEEDS_CHECKING, reason=error.message, actor=actor)
        return "refused"
    assert isinstance(error, ProviderTemporaryError), error
    failures = order.provider_failures + 1
    _release(
        order_id=order.pk, claimed_at=claimed_at, provider_failures=failures,
        provider_retry_at=timezone.now() + retry_delay(failures),
    )
    return "retry"


def _cancel_refused(*, order_id: int, claimed_at: datetime, error: ProviderError, actor: str) -> None:
    """The provider refused the order for good: Canceled with the whole charge refunded."""
    with transaction.atomic():
        account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
        lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.provider_submitted_at != claimed_at or order.status != OrderStatus.PENDING:
            return
        order.provider_submitted_at = None
        apply_transition(
            order=order, new_status=OrderStatus.CANCELED, actor=actor,
            reason=f"refused by provider: {error.provider_message or error.message}"[:500],
            also_save=["provider_submitted_at"],
        )


def forwarding_sweep_stale(*, now: datetime | None = None) -> int:
    """Hold `needs_checking` the orders claimed longer ago than the grace period without an
    answer recorded (their worker died mid-call): the provider may have them. Never resends."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.PROVIDER_SUBMIT_GRACE_SECONDS)
    ids = list(
        Order.objects.filter(
            status=OrderStatus.PENDING, hold_reason="", provider_order_id__isnull=True,
            provider_submitted_at__lt=stale_before,
        ).order_by("pk").values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    return sum(
        order_hold(
            order_id=pk, hold_reason=HoldReason.NEEDS_CHECKING, actor="worker",
            reason="submitted to the provider, no answer recorded: check the order there",
        )
        for pk in ids
    )


def _lock_unresolved(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    if order.provider_id is None or order.provider_order_id or order.status != OrderStatus.PENDING:
        raise DomainError("Only a Pending provider order without a provider order id can be resolved this way")
    if not order.hold_reason:
        # Without a hold its `add` may be on its way right now: only a held order is the operator's.
        raise DomainError("Only an order on hold can be resolved this way")
    return order


def order_forward_confirm(*, order_id: int, provider_order_id: str, actor: str) -> Order:
    """An operator found the order at the provider: keep its id and move it to Processing; polling
    takes over. Locks the order."""
    provider_order_id = (provider_order_id or "").strip()
    if not provider_order_id or len(provider_order_id) > Order._meta.get_field("provider_order_id").max_length:
        raise DomainError("Give the provider's order id")
    try:
        with transaction.atomic():
            order = _lock_unresolved(order_id)
            order.provider_order_id, order.hold_reason = provider_order_id, ""
            order.provider_submitted_at = order.provider_submitted_at or timezone.now()
            order.provider_checked_at = timezone.now()
            return apply_transition(
                order=order, new_status=OrderStatus.PROCESSING, actor=actor,
                reason=f"confirmed at the provider as #{provider_order_id}",
                also_save=["provider_order_id", "hold_reason", "provider_submitted_at", "provider_checked_at"],
            )
    except IntegrityError:
        raise DomainError(f"Another order already has the provider order id {provider_order_id}") from None


def order_forward_not_placed(*, order_id: int, actor: str) -> Order:
    """An operator checked the provider has no such order: clear the hold and the claim so the
    worker submits it again. Locks the order."""
    with transaction.atomic():
        order = _lock_unresolved(order_id)
        old_hold = order.hold_reason
        order.hold_reason, order.provider_submitted_at, order.attempts = "", None, 0
        order.provider_failures, order.provider_retry_at = 0, None
        order.save(update_fields=[
            "hold_reason", "provider_submitted_at", "attempts", "provider_failures", "provider_retry_at", "updated_at",
        ])
        OrderEvent.objects.create(
            order=order, old_status=order.status, new_status=order.status, actor=actor,
            reason=f"not placed at the provider (checked); hold {old_hold or 'none'} cleared, to be submitted again",
        )
        wake_after_commit(order.pk)
    return order
