"""A reseller's cancel: a not-yet-started order with a full refund, or a drip-feed order between
runs with the undelivered part refunded; either exactly once."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from orders import simulation
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.transitions import (
    apply_transition,
    lock_account,
    lock_account_order,
)
from smmpanel.errors import (
    OrderNotCancelable,
)

RESELLER_CANCELABLE = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})


def _elapsed_seconds(order: Order, now: datetime) -> float:
    return (now - order.deliver_from).total_seconds()


def _dripfeed(order: Order) -> simulation.DripFeed | None:
    return simulation.DripFeed.of(quantity=order.quantity, runs=order.runs, interval_minutes=order.interval)


def remains_now(order: Order, *, now: datetime) -> int:
    """An In progress simulated order's remains at `now`, from time like the tick's (the tick may
    not have run since the last run ended), and never above the remains already recorded."""
    if order.status != OrderStatus.IN_PROGRESS or order.deliver_from is None or order.sim_speed is None:
        return order.remains
    delivered = simulation.delivered_after(
        seconds=_elapsed_seconds(order, now),
        speed_per_minute=order.sim_speed,
        limit=order.sim_limit,
        dripfeed=_dripfeed(order),
        minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS,
    )
    return min(order.remains, order.quantity - delivered)


def _between_runs(order: Order, now: datetime) -> bool:
    return (
        order.status == OrderStatus.IN_PROGRESS
        and order.deliver_from is not None
        and order.sim_speed is not None
        and simulation.between_runs(
            seconds=_elapsed_seconds(order, now),
            speed_per_minute=order.sim_speed,
            dripfeed=_dripfeed(order),
            minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS,
        )
    )


def _pass_on(order: Order, *, actor: str) -> Order:
    """A forwarded order's cancel is the provider's to do: mark it and send it after commit; the
    order becomes Canceled (refunded) when polling sees the provider's Canceled. Refused while the
    `add` is still on its way (no provider id yet: nothing to name) and when asked already."""
    if (
        not order.provider_order_id
        or order.provider_cancel_requested_at is not None
        or order.status not in RESELLER_CANCELABLE
        or order.remains != order.quantity
    ):
        raise OrderNotCancelable()
    order.provider_cancel_requested_at = timezone.now()
    order.save(update_fields=["provider_cancel_requested_at", "updated_at"])
    OrderEvent.objects.create(
        order=order, old_status=order.status, new_status=order.status, actor=actor,
        reason="cancel requested; passed on to the provider",
    )
    transaction.on_commit(partial(_send_cancel, order.pk), robust=True)
    return order


def _send_cancel(order_id: int) -> None:
    from providers.tasks import order_cancel_upstream  # providers import the order services

    order_cancel_upstream.apply_async((order_id,), retry=False)


def order_cancel(*, account: Account, order_id: int, actor: str, now: datetime | None = None) -> Order:
    """Cancel an order of this account; locks account, then order. Not started yet: Canceled, the
    whole charge refunded. A drip-feed order between runs: Partial, the remaining runs dropped and
    the undelivered part refunded. Anything else, a second cancel included, is refused.
    """
    with transaction.atomic():
        lock_account(account.pk)
        order = lock_account_order(account_id=account.pk, order_id=order_id)
        if not order.service.cancel or order.hold_reason:
            raise OrderNotCancelable()
        if order.provider_submitted_at is not None or order.provider_order_id:
            return _pass_on(order, actor=actor)
        # A provider order not yet claimed by forwarding is canceled here: the claim needs Pending.
        if order.status in RESELLER_CANCELABLE and order.remains == order.quantity:
            return apply_transition(
                order=order, new_status=OrderStatus.CANCELED, reason="canceled by reseller", actor=actor
            )
        # Read the clock under the order lock: the tick skips a locked order, and one that ran
        # before the lock was taken has at most recorded the remains this computes anyway.
        now = now or timezone.now()
        if _between_runs(order, now):
            return apply_transition(
                order=order,
                new_status=OrderStatus.PARTIAL,
                reason="drip-feed canceled by reseller between runs",
                actor=actor,
                remains=remains_now(order, now=now),
            )
        raise OrderNotCancelable()

