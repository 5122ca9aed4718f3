"""Read queries for orders: what the API's status actions look up."""
from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Account
from orders.models import Order
from smmpanel.errors import OrderNotFound

STATUS_FIELDS = ("id", "charge", "start_count", "status", "remains")


def order_get(*, account: Account, order_id: int) -> Order:
    """One of this account's orders; another account's is as absent as an unknown one."""
    order = Order.objects.only(*STATUS_FIELDS).filter(pk=order_id, account_id=account.pk).first()
    if order is None:
        raise OrderNotFound()
    return order


def orders_by_id(*, account: Account, order_ids: Iterable[int]) -> dict[int, Order]:
    """This account's orders among `order_ids`, in one query."""
    orders = Order.objects.only(*STATUS_FIELDS).filter(account_id=account.pk, pk__in=list(order_ids))
    return {order.pk: order for order in orders}
