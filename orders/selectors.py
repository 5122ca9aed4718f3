"""Read queries for orders: what the API's status actions look up."""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, Count, F, Q, When
from django.db.models.query import RawQuerySet

from accounts.models import Account
from orders.models import FulfillmentTick, Order, OrderStatus, Refill
from smmpanel.errors import OrderNotFound, RefillNotFound

STATUS_FIELDS = ("id", "charge", "start_count", "status", "remains")
# Both vendors quote names alike (double quotes); the API's ids are at most 18 digits (smmpanel.fields).
_ID = f'"{Order._meta.pk.column}"'
_ACCOUNT = f'"{Order._meta.get_field("account").column}"'


def _status_rows(where: str, params: list) -> RawQuerySet:
    """Orders with only STATUS_FIELDS loaded (the rest deferred), through `raw()`: the API's status
    lookups run at every poll, and compiling them with the ORM cost about 0.3 ms of CPU a call,
    twice the rest of the query's work (bench/REPORT.md). `raw()` still applies Django's converters."""
    columns = ", ".join(f'"{Order._meta.get_field(name).column}"' for name in STATUS_FIELDS)
    return Order.objects.raw(f'SELECT {columns} FROM "{Order._meta.db_table}" WHERE {where}', params)


def order_get(*, account: Account, order_id: int) -> Order:
    """One of this account's orders; another account's is as absent as an unknown one."""
    order = next(iter(_status_rows(f"{_ID} = %s AND {_ACCOUNT} = %s", [order_id, account.pk])), None)
    if order is None:
        raise OrderNotFound()
    return order


def orders_by_id(*, account: Account, order_ids: Iterable[int]) -> dict[int, Order]:
    """This account's orders among `order_ids`, in one query."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    placeholders = ", ".join(["%s"] * len(ids))
    orders = _status_rows(f"{_ACCOUNT} = %s AND {_ID} IN ({placeholders})", [account.pk, *ids])
    return {order.pk: order for order in orders}


def refill_get(*, account: Account, refill_id: int) -> Refill:
    """One of this account's refills; another account's is as absent as an unknown one."""
    refill = Refill.objects.only("id", "status").filter(pk=refill_id, account_id=account.pk).first()
    if refill is None:
        raise RefillNotFound()
    return refill


def refills_by_id(*, account: Account, refill_ids: Iterable[int]) -> dict[int, Refill]:
    """This account's refills among `refill_ids`, in one query."""
    refills = Refill.objects.only("id", "status").filter(account_id=account.pk, pk__in=list(refill_ids))
    return {refill.pk: refill for refill in refills}


def fulfillment_overview(*, now) -> dict:
    """What an operator checks when "orders are stuck": counts, holds, the oldest due order, the last tick."""
    by_status = dict(Order.objects.values_list("status").annotate(n=Count("pk")).order_by())
    holds = dict(
        Order.objects.exclude(hold_reason="").values_list("hold_reason").annotate(n=Count("pk")).order_by()
    )
    # Waiting since: a Pending order since it was placed (the tick's wake-up re-sends touch
    # updated_at), a Processing one since its start time, an In progress one since its last advance.
    waiting_since = Case(
        When(status=OrderStatus.PENDING, then=F("created_at")),
        When(status=OrderStatus.PROCESSING, then=F("deliver_from")),
        default=F("updated_at"),
    )
    due = Order.objects.filter(hold_reason="").filter(
        Q(status=OrderStatus.PENDING)
        | Q(status=OrderStatus.PROCESSING, deliver_from__lte=now)
        | Q(status=OrderStatus.IN_PROGRESS)
    )
    oldest_due = (
        due.annotate(waiting_since=waiting_since).order_by("waiting_since").values("pk", "status", "waiting_since").first()
    )
    return {
        "by_status": {status: by_status.get(status, 0) for status in OrderStatus.values},
        "holds": holds,
        "oldest_due": oldest_due,
        "last_tick": FulfillmentTick.objects.filter(pk=1).first(),
    }
