"""What operators do to orders from the admin, each through the lifecycle table."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.models import ACTIVE_STATUSES, Order, OrderEvent, OrderStatus
from orders.services.canceling import RESELLER_CANCELABLE, remains_now
from orders.services.transitions import apply_transition, lock_account, order_transition
from orders.wakeups import wake_after_commit
from smmpanel.errors import (
    DomainError,
    OrderNotCancelable,
    OrderNotFound,
)


def order_operator_cancel(*, order_id: int, actor: str, created_by=None, now: datetime | None = None) -> Order:
    """An operator's cancel: before delivery started, Canceled with the whole charge refunded;
    after, Partial with the undelivered part (as of now, not of the last tick) refunded. Locks
    the account, then the order.
    """
    with transaction.atomic():
        account_id = Order.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        if account_id is None:
            raise OrderNotFound()
        lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in ACTIVE_STATUSES and (order.provider_submitted_at is not None or order.provider_order_id):
            # Refunding here while the provider goes on delivering (and charging us) would pay twice.
            raise DomainError(
                "This order was sent to its provider: cancel it there first, then mark it partial or completed"
            )
        if order.status in RESELLER_CANCELABLE and order.remains == order.quantity:
            new_status = OrderStatus.CANCELED
        elif order.status in (OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS):
            new_status = OrderStatus.PARTIAL
        else:
            raise OrderNotCancelable()
        remains = remains_now(order, now=now or timezone.now())
        if new_status == OrderStatus.PARTIAL and remains == 0:
            new_status = OrderStatus.COMPLETED  # all delivered by now; the tick has not recorded it yet
        return apply_transition(
            order=order,
            new_status=new_status,
            reason="canceled by operator",
            actor=actor,
            remains=remains,
            created_by=created_by,
        )


def order_mark_partial(*, order_id: int, delivered: int, actor: str, created_by=None) -> Order:
    """End an order as Partial with `delivered` units, refunding the rest; locks account, then order."""
    quantity = Order.objects.filter(pk=order_id).values_list("quantity", flat=True).first()
    if quantity is None:
        raise OrderNotFound()
    if not 0 <= delivered < quantity:
        raise DomainError(f"Delivered must be between 0 and {quantity - 1} for a partial order")
    return order_transition(
        order_id=order_id,
        new_status=OrderStatus.PARTIAL,
        reason=f"marked partial: {delivered} delivered",
        actor=actor,
        remains=quantity - delivered,
        created_by=created_by,
    )


def order_mark_completed(*, order_id: int, actor: str) -> Order:
    """End an order as Completed (everything delivered, nothing refunded); locks the order."""
    return order_transition(order_id=order_id, new_status=OrderStatus.COMPLETED, reason="marked completed", actor=actor)


def order_resend(*, order_id: int, actor: str) -> Order:
    """Clear an active order's hold and put it back in the queue; locks the order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise OrderNotFound()
        if order.status not in (OrderStatus.PENDING, OrderStatus.PROCESSING):
            raise DomainError(f"Only Pending or Processing orders can be resent, not {order.status}")
        if order.provider_submitted_at is not None and not order.provider_order_id:
            # Sent, and no id came back: the provider may have it, and a resend could buy twice.
            raise DomainError(
                "This order may have reached its provider: check there, then confirm its provider order id"
                " or mark it not placed"
            )
        old_hold, order.hold_reason, order.attempts = order.hold_reason, "", 0
        order.provider_failures, order.provider_retry_at = 0, None
        order.save(update_fields=["hold_reason", "attempts", "provider_failures", "provider_retry_at", "updated_at"])
        OrderEvent.objects.create(
            order=order,
            old_status=order.status,
            new_status=order.status,
            reason=f"resent (hold {old_hold or 'none'} cleared)",
            actor=actor,
        )
        if order.status == OrderStatus.PENDING:
            wake_after_commit(order.pk)
    return order
