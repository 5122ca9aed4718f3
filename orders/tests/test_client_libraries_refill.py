"""The third-party client libraries' refill, refill status and batch cancel methods against the
live server, on orders the engine really delivered (order_start and ticks at chosen instants,
driven from the test), with the outcomes checked in the database.

What each library offers (read from its source, pinned in requirements-dev.txt):

- safesmm 0.1.0: `refill(order_id)` (single form `order=`) and `cancel(list)` (always the batch
  form); no refill status. An `error` answer raises `SafeSMMError(message)`.
- babismm 1.0.1 (`smm.SMM`): `create_refill` (`order=`), `create_multi_refill` (`orders=`),
  `get_refill_status` (`refill=`), `get_multi_refill_status` (`refills=`), `cancel_orders`
  (`orders=`). An `error` answer raises `SMMAPIError(message)`; a batch's item errors come back in
  the list, as API.md has them.
- smmpy 0.1.0 (`smmpy.smm`): the same five methods and fields, every value sent as a string; an
  `error` answer raises a bare `Exception(message)`.
- optsmm 1.0.1 has no refill and no batch cancel: nothing to add for it here.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import safesmm
import smm as babismm
import smmpy
from django.utils import timezone

from accounts.models import Account, LedgerEntry
from catalog.tests.factories import ServiceFactory
from orders import engine
from orders.models import Order, OrderStatus, Refill, RefillStatus
from orders.services import order_start

NOT_AVAILABLE = "Refill is not available for this order"
SPEED = 600  # units a minute: 1000 units in 100 s, a refill of 100 in 10 s


@pytest.fixture
def api_url(live_server) -> str:
    return live_server.url + "/api/v2"


@pytest.fixture
def service(db):
    return ServiceFactory(rate=Decimal("5"), refill=True, cancel=True, drop_percent=10, start_delay_seconds=0,
                          speed_per_minute=SPEED)


class Clock:
    """The engine's instants: each step is well past what the one before it needs."""

    def __init__(self):
        self.now = timezone.now()

    def tick(self, seconds: float) -> dict[str, int]:
        self.now += timedelta(seconds=seconds)
        return engine.tick(now=self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def deliver(clock: Clock, *order_ids: int) -> None:
    """Start the orders and tick until they are delivered, as the worker would."""
    for order_id in order_ids:
        order_start(order_id=order_id, now=clock.now)
    clock.tick(120)
    assert set(Order.objects.filter(pk__in=order_ids).values_list("status", "remains")) == {(OrderStatus.COMPLETED, 0)}


def refill_row(refill_id: int) -> tuple[int, int, str, int]:
    refill = Refill.objects.get(pk=refill_id)
    return refill.order_id, refill.account_id, refill.status, refill.quantity


def ledger_kinds(account: Account) -> list[str]:
    return list(LedgerEntry.objects.filter(account=account).order_by("pk").values_list("kind", flat=True))


def link(n: int) -> str:
    return f"https://instagram.com/user{n}"


# --- safesmm -----------------------------------------------------------------------------------


def test_safesmm_refills_a_delivered_order_and_cancels_in_batch(api_url, reseller, service, clock):
    client = safesmm.SafeSMM(reseller.key, api_url=api_url)
    delivered = client.add_order(service.pk, link(1), 1000)["order"]
    deliver(clock, delivered)
    waiting = [client.add_order(service.pk, link(n), 1000)["order"] for n in (2, 3)]

    refill = client.refill(delivered)
    assert refill == {"refill": refill["refill"]} and isinstance(refill["refill"], int)
    assert refill_row(refill["refill"]) == (delivered, reseller.pk, RefillStatus.PENDING, 100)
    with pytest.raises(safesmm.SafeSMMError) as running:
        client.refill(delivered)
    assert str(running.value) == NOT_AVAILABLE
    with pytest.raises(safesmm.SafeSMMError) as not_delivered:
        client.refill(waiting[0])
    assert str(not_delivered.value) == NOT_AVAILABLE
    with pytest.raises(safesmm.SafeSMMError) as unknown:
        client.refill(999999)
    assert str(unknown.value) == "Order not found"

    assert client.cancel([*waiting, delivered]) == [
        {"order": waiting[0], "cancel": 1},
        {"order": waiting[1], "cancel": 1},
        {"order": delivered, "cancel": {"error": "Order cannot be canceled"}},
    ]
    assert dict(Order.objects.values_list("pk", "status")) == {
        delivered: OrderStatus.COMPLETED, waiting[0]: OrderStatus.CANCELED, waiting[1]: OrderStatus.CANCELED,
    }
    assert client.balance() == {"balance": "95.00", "currency": "TRY"}  # 3 charges of 5, 2 refunds

    clock.tick(60)
    assert refill_row(refill["refill"])[2] == RefillStatus.IN_PROGRESS
    clock.tick(60)  # 100 units at 600 a minute take 10 s
    assert refill_row(refill["refill"])[2] == RefillStatus.COMPLETED
    # Nothing more has dropped: the next refill is taken, then rejected.
    again = client.refill(delivered)["refill"]
    clock.tick(60)
    assert refill_row(again) == (delivered, reseller.pk, RefillStatus.REJECTED, 0)
    with pytest.raises(safesmm.SafeSMMError) as canceled:
        client.refill(waiting[0])
    assert str(canceled.value) == NOT_AVAILABLE
    assert ledger_kinds(reseller) == ["deposit", "charge", "charge", "charge", "refund", "refund"]


# --- babismm (import name `smm`) ---------------------------------------------------------------


def test_babismm_refills_single_and_batch_reads_refill_status_and_cancels_in_batch(api_url, reseller, service, clock):
    with babismm.SMM(api_url, reseller.key) as client:
        first, second = (client.add_order(service.pk, link=link(n), quantity=1000)["order"] for n in (1, 2))
        deliver(clock, first, second)
        waiting = client.add_order(service.pk, link=link(3), quantity=1000)["order"]

        single = client.create_refill(first)
        assert refill_row(single["refill"]) == (first, reseller.pk, RefillStatus.PENDING, 100)
        batch = client.create_multi_refill([first, second, waiting, 999999])
        batch_id = Refill.objects.get(order_id=second).pk
        assert batch == [
            {"order": first, "refill": {"error": NOT_AVAILABLE}},
            {"order": second, "refill": batch_id},
            {"order": waiting, "refill": {"error": NOT_AVAILABLE}},
            {"order": 999999, "refill": {"error": "Order not found"}},
        ]
        assert Refill.objects.count() == 2

        assert client.get_refill_status(single["refill"]) == {"status": "Pending"}
        clock.tick(60)
        assert client.get_multi_refill_status([single["refill"], batch_id, 999999]) == [
            {"refill": single["refill"], "status": "In progress"},
            {"refill": batch_id, "status": "In progress"},
            {"refill": 999999, "status": {"error": "Refill not found"}},
        ]
        clock.tick(60)
        assert client.get_refill_status(batch_id) == {"status": "Completed"}
        assert set(Refill.objects.values_list("status", flat=True)) == {RefillStatus.COMPLETED}
        with pytest.raises(babismm.SMMAPIError) as not_found:
            client.get_refill_status(999999)
        assert str(not_found.value) == "Refill not found"

        assert client.cancel_orders([waiting, first]) == [
            {"order": waiting, "cancel": 1},
            {"order": first, "cancel": {"error": "Order cannot be canceled"}},
        ]
        assert Order.objects.get(pk=waiting).status == OrderStatus.CANCELED
        assert client.get_balance() == {"balance": "90.00", "currency": "TRY"}
        with pytest.raises(babismm.SMMAPIError) as canceled:
            client.create_refill(waiting)
        assert str(canceled.value) == NOT_AVAILABLE
    assert Refill.objects.count() == 2


# --- smmpy -------------------------------------------------------------------------------------


def test_smmpy_refills_single_and_batch_reads_refill_status_and_cancels_in_batch(api_url, reseller, service, clock):
    client = smmpy.smm(api_url, reseller.key)
    first, second = (client.add_order(service.pk, link(n), 1000)["order"] for n in (1, 2))
    deliver(clock, first, second)
    waiting = client.add_order(service.pk, link(3), 1000)["order"]

    batch = client.create_multi_refill([first, second])
    ids = dict(Refill.objects.values_list("order_id", "pk"))
    assert batch == [{"order": first, "refill": ids[first]}, {"order": second, "refill": ids[second]}]
    with pytest.raises(Exception) as running:
        client.create_refill(first)
    assert str(running.value) == NOT_AVAILABLE

    assert client.get_multi_refill_status([ids[first], ids[second]]) == [
        {"refill": ids[first], "status": "Pending"}, {"refill": ids[second], "status": "Pending"},
    ]
    clock.tick(60)
    clock.tick(60)
    assert client.get_refill_status(ids[first]) == {"status": "Completed"}
    assert refill_row(ids[second]) == (second, reseller.pk, RefillStatus.COMPLETED, 100)

    again = client.create_refill(first)["refill"]
    clock.tick(60)
    assert client.get_refill_status(again) == {"status": "Rejected"}  # nothing dropped since

    assert client.cancel_orders([waiting]) == [{"order": waiting, "cancel": 1}]
    assert client.cancel_orders([waiting]) == [{"order": waiting, "cancel": {"error": "Order cannot be canceled"}}]
    assert Order.objects.get(pk=waiting).status == OrderStatus.CANCELED
    assert client.get_balance() == {"balance": "90.00", "currency": "TRY"}
    with pytest.raises(Exception) as not_found:
        client.get_refill_status(999999)
    assert str(not_found.value) == "Refill not found"
