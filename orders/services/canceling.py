"""A reseller's cancel: a not-yet-started order, a full refund, exactly once."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import Account
from orders.models import Order, OrderStatus
from orders.services.transitions import apply_transition, lock_account
from smmpanel.errors import (
    OrderNotCancelable,
    OrderNotFound,
)

RESELLER_CANCELABLE = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})


def order_cancel(*, account: Account, order_id: int, actor: str) -> Order:
    """Cancel a not-yet-started order of this account with a full refund; locks account, then order.

    A second cancel finds the order Canceled and is refused: the refund happens once.
    """
    with transaction.atomic():
        lock_account(account.pk)
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(pk=order_id, account_id=account.pk)
            .first()
        )
        if order is None:
            raise OrderNotFound()
        if not (
            order.service.cancel
            and order.status in RESELLER_CANCELABLE
            and order.remains == order.quantity
            and not order.hold_reason
        ):
            raise OrderNotCancelable()
        return apply_transition(
            order=order, new_status=OrderStatus.CANCELED, reason="canceled by reseller", actor=actor
        )


def order_cancel_many(*, account: Account, order_ids: Sequence[int], actor: str) -> dict[int, Order | Exception]:
    """Cancel each order in its own transaction: one refusal never undoes the others."""
    results: dict[int, Order | Exception] = {}
    for order_id in order_ids:
        try:
            results[order_id] = order_cancel(account=account, order_id=order_id, actor=actor)
        except (OrderNotFound, OrderNotCancelable) as exc:
            results[order_id] = exc
    return results
