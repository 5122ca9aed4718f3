"""The fulfillment engine driven directly (no broker): each tick's effect, at chosen instants."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, LedgerEntry
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import engine, simulation
from orders.models import FulfillmentTick, HoldReason, Order, OrderEvent, OrderStatus
from orders.services import order_attempt_begin, order_cancel, order_place, order_start
from smmpanel.errors import OrderNotCancelable

T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def account(db):
    return reseller_with_key("engine", "1000")


def place(account, service, link="https://instagram.com/target", quantity=1000) -> Order:
    return order_place(
        account=account, fields={"service": service.pk, "link": link, "quantity": quantity}, actor="test"
    )


def refresh(order: Order) -> Order:
    order.refresh_from_db()
    return order


def assert_ledger_balanced(account: Account) -> None:
    account.refresh_from_db()
    assert account.balance == LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]


def test_an_order_goes_pending_processing_in_progress_completed(account):
    service = ServiceFactory(start_delay_seconds=60, speed_per_minute=600)
    order = place(account, service)
    order_start(order_id=order.pk, now=at(0))
    assert refresh(order).status == OrderStatus.PROCESSING and order.start_count == 0
    engine.tick(now=at(30))
    assert refresh(order).status == OrderStatus.PROCESSING  # still in its start delay
    engine.tick(now=at(60))
    assert refresh(order).status == OrderStatus.IN_PROGRESS
    assert order.start_count == simulation.base_count(order.link_normalized) > 0
    engine.tick(now=at(90))
    assert refresh(order).remains == 700  # 600/min × 30 s
    engine.tick(now=at(90))  # the same instant again: nothing more is delivered
    assert refresh(order).remains == 700
    engine.tick(now=at(159))
    assert refresh(order).remains == 10 and order.status == OrderStatus.IN_PROGRESS
    engine.tick(now=at(161))
    assert refresh(order).status == OrderStatus.COMPLETED and order.remains == 0
    assert list(order.events.values_list("new_status", flat=True)) == [
        "Pending", "Processing", "In progress", "Completed",
    ]
    assert_ledger_balanced(account)


def test_no_start_delay_goes_straight_to_in_progress(account):
    order = place(account, ServiceFactory(start_delay_seconds=0))
    order_start(order_id=order.pk, now=at(0))
    assert refresh(order).status == OrderStatus.IN_PROGRESS and order.start_count > 0


def test_starting_twice_is_a_no_op(account):
    order = place(account, ServiceFactory(start_delay_seconds=60))
    assert order_start(order_id=order.pk, now=at(0)) is not None
    assert order_start(order_id=order.pk, now=at(5)) is None
    assert refresh(order).deliver_from == at(60)
    assert order.events.count() == 2


def test_a_short_order_ends_partial_with_one_refund_of_the_undelivered_part(account):
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=1000, shortfall_percent=100, rate=Decimal("5"))
    order = place(account, service)
    order_start(order_id=order.pk, now=at(0))
    limit = refresh(order).sim_limit
    assert 0 < limit < 1000
    for _ in range(3):
        engine.tick(now=at(3600))
    assert refresh(order).status == OrderStatus.PARTIAL and order.remains == 1000 - limit
    refunds = LedgerEntry.objects.filter(order=order, kind="refund")
    assert list(refunds.values_list("amount", flat=True)) == [Decimal(5) * (1000 - limit) / 1000]
    assert_ledger_balanced(account)


def test_start_count_moves_forward_by_what_earlier_orders_delivered(account):
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=100000)
    first = place(account, service, quantity=1000)
    order_start(order_id=first.pk, now=at(0))
    engine.tick(now=at(60))
    assert refresh(first).status == OrderStatus.COMPLETED
    second = place(account, service, link="https://www.instagram.com/target/", quantity=500)
    order_start(order_id=second.pk, now=at(61))
    assert refresh(second).start_count == refresh(first).start_count + 1000


def test_ticks_advance_many_orders_in_batches(account, settings):
    settings.FULFILLMENT_BATCH_SIZE = 7
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=60)
    orders = [place(account, service, link=f"https://instagram.com/u{n}", quantity=100) for n in range(20)]
    for order in orders:
        order_start(order_id=order.pk, now=at(0))
    moved = engine.tick(now=at(30))
    assert moved["advanced"] == 20
    assert set(Order.objects.values_list("remains", flat=True)) == {70}
    engine.tick(now=at(100))
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.COMPLETED}
    record = FulfillmentTick.objects.get()
    assert record.moved["completed"] == 20 and record.finished_at >= record.started_at


def test_cancel_is_refused_once_delivery_started(account):
    order = place(account, ServiceFactory(start_delay_seconds=60))
    order_start(order_id=order.pk, now=at(0))
    engine.tick(now=at(61))
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="test")
    assert refresh(order).status == OrderStatus.IN_PROGRESS


def test_a_canceled_order_is_never_started(account):
    order = place(account, ServiceFactory(start_delay_seconds=60))
    order_start(order_id=order.pk, now=at(0))
    order_cancel(account=account, order_id=order.pk, actor="test")
    engine.tick(now=at(120))
    assert refresh(order).status == OrderStatus.CANCELED and order.remains == order.quantity
    assert_ledger_balanced(account)


def test_held_orders_are_left_alone(account):
    order = place(account, ServiceFactory(start_delay_seconds=0))
    order_start(order_id=order.pk, now=at(0))
    Order.objects.filter(pk=order.pk).update(hold_reason=HoldReason.NEEDS_CHECKING)
    engine.tick(now=at(3600))
    assert refresh(order).status == OrderStatus.IN_PROGRESS and order.remains == order.quantity


def test_a_start_that_keeps_dying_parks_the_order(account):
    order = place(account, ServiceFactory(start_delay_seconds=0))
    for _ in range(3):  # three deliveries of the task that all died before finishing
        assert order_attempt_begin(order_id=order.pk, max_attempts=3, actor="worker")
    assert not order_attempt_begin(order_id=order.pk, max_attempts=3, actor="worker")
    assert refresh(order).hold_reason == HoldReason.PARKED and order.status == OrderStatus.PENDING
    assert OrderEvent.objects.filter(order=order, reason__startswith="hold: parked").count() == 1
    assert not order_attempt_begin(order_id=order.pk, max_attempts=3, actor="worker")
    assert order_start(order_id=order.pk, now=at(0)) is None  # the worker leaves it to an operator


def test_a_finished_start_resets_the_attempts(account):
    order = place(account, ServiceFactory(start_delay_seconds=0))
    assert order_attempt_begin(order_id=order.pk, max_attempts=3, actor="worker")
    order_start(order_id=order.pk, now=at(0))
    assert refresh(order).attempts == 0
    assert not order_attempt_begin(order_id=order.pk, max_attempts=3, actor="worker")  # not Pending any more


def test_lost_wakeups_are_resent_by_the_tick(account, settings):
    order = place(account, ServiceFactory())
    assert engine.tick(now=timezone.now())["wakeups_resent"] == 0  # just placed: its wake-up is on its way
    later = timezone.now() + timedelta(seconds=settings.FULFILLMENT_TICK_SECONDS + 1)
    assert engine.tick(now=later)["wakeups_resent"] == 1
    assert engine.tick(now=later)["wakeups_resent"] == 0  # not again within the same interval
    assert refresh(order).status == OrderStatus.PENDING  # the broker carries the wake-up; no worker here
