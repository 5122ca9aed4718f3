"""Read queries for orders: what the API's status actions look up."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import Case, Count, F, Q, When

from accounts.models import Account
from orders.models import FulfillmentTick, Order, OrderStatus, Refill
from smmpanel.db_values import converter
from smmpanel.errors import OrderNotFound, RefillNotFound

STATUS_FIELDS = ("id", "charge", "start_count", "status", "remains")
# Both vendors quote names alike (double quotes); the API's ids are at most 18 digits (smmpanel.fields).
_ID = f'"{Order._meta.pk.column}"'
_ACCOUNT = f'"{Order._meta.get_field("account").column}"'


class StatusRow(NamedTuple):
    """What the API's status answers read of an order (STATUS_FIELDS)."""

    pk: int
    charge: Decimal
    start_count: int
    status: str
    remains: int


def _status_rows(where: str, params: list) -> list[StatusRow]:
    """The orders' STATUS_FIELDS as plain rows, by one statement run directly: the API's status
    lookups run at every poll, and compiling them with the ORM cost about 0.3 ms of CPU a call,
    twice the rest of the query's work; `raw()` then spent as much again making model instances of
    100 rows (bench/REPORT.md). Django's converters are applied (SQLite's decimals need one)."""
    columns = ", ".join(f'"{Order._meta.get_field(name).column}"' for name in STATUS_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{Order._meta.db_table}" WHERE {where}', params)
        rows = cursor.fetchall()
    charge = converter(Order, "charge")
    return [StatusRow(pk, charge(value), *rest) for pk, value, *rest in rows]


def order_get(*, account: Account, order_id: int) -> StatusRow:
    """One of this account's orders; another account's is as absent as an unknown one."""
    order = next(iter(_status_rows(f"{_ID} = %s AND {_ACCOUNT} = %s", [order_id, account.pk])), None)
    if order is None:
        raise OrderNotFound()
    return order


def orders_by_id(*, account: Account, order_ids: Iterable[int]) -> dict[int, StatusRow]:
    """This account's orders among `order_ids`, in one query."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter: psycopg converts a statement with more than 50 parameters afresh at
        # every call (~0.15 ms for 100 ids); with one it reuses the conversion.
        orders = _status_rows(f"{_ACCOUNT} = %s AND {_ID} = ANY(%s::bigint[])", [account.pk, ids])
    else:
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
