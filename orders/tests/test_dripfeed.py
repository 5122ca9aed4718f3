"""Drip-feed: runs released every interval, `remains` over the whole order, a cancel between runs.

The engine is driven directly at chosen instants (any database, SQLite too); the last test places
and cancels over HTTP with a real Celery worker and beat on PostgreSQL.
"""
from __future__ import annotations

import itertools
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders import engine, simulation
from orders.models import Order, OrderStatus
from orders.services import (
    order_cancel,
    order_operator_cancel,
    order_place,
    order_start,
)
from orders.sql import delivered_units
from orders.tests.live_processes import TICK_SECONDS, wait_for
from smmpanel.errors import OrderNotCancelable, QuantityOutOfBounds
from smmpanel.money import partial_refund

T0 = timezone.now().replace(microsecond=0)
INTERVAL = 600  # seconds: the 10-minute interval of the orders below


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("drip", "1000")


@pytest.fixture
def service(db) -> Service:
    # 600 units a minute: a run of 100 takes 10 s, then the order rests until the next release.
    return ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=600, rate=Decimal("5"))


def place(account: Account, service: Service, *, quantity=100, runs=3, interval=10, link="https://instagram.com/drip"):
    fields = {"service": service.pk, "link": link, "quantity": quantity, "runs": runs, "interval": interval}
    return order_place(account=account, fields=fields, actor="test")


def started(account: Account, service: Service, **fields) -> Order:
    order = place(account, service, **fields)
    order_start(order_id=order.pk, now=at(0))
    return refresh(order)


def refresh(order: Order) -> Order:
    order.refresh_from_db()
    return order


def refunds(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).values_list("amount", flat=True))


def assert_ledger_balanced(account: Account) -> None:
    account.refresh_from_db()
    assert account.balance == LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]


def test_quantity_is_per_run_and_the_whole_order_is_charged_up_front(account, service):
    order = place(account, service, quantity=100, runs=3, interval=10)
    assert (order.quantity, order.remains, order.runs, order.interval) == (300, 300, 3, 10)
    assert order.charge == Decimal("1.5") and refresh(account).balance == Decimal("998.5")
    with pytest.raises(QuantityOutOfBounds):  # min/max apply to the total: 40 × 2 < 100
        place(account, service, quantity=40, runs=2, link="@small")
    place(account, service, quantity=40, runs=3, link="@enough")  # 120


def test_runs_are_released_every_interval_and_remains_covers_the_whole_order(account, service):
    order = started(account, service)
    assert order.status == OrderStatus.IN_PROGRESS
    expected = [  # (instant, remains): run k is released at k × 10 min and takes 10 s
        (5, 250), (10, 200), (300, 200), (INTERVAL - 1, 200),
        (INTERVAL, 200), (INTERVAL + 5, 150), (INTERVAL + 10, 100), (2 * INTERVAL - 1, 100),
        (2 * INTERVAL + 5, 50),
    ]
    for seconds, remains in expected:
        engine.tick(now=at(seconds))
        assert (refresh(order).remains, order.status) == (remains, OrderStatus.IN_PROGRESS), seconds
    engine.tick(now=at(2 * INTERVAL + 5))  # the same instant again delivers nothing more
    assert refresh(order).remains == 50
    engine.tick(now=at(2 * INTERVAL + 10))
    assert (refresh(order).status, order.remains) == (OrderStatus.COMPLETED, 0)
    assert list(order.events.values_list("new_status", flat=True)) == [
        "Pending", "Processing", "In progress", "Completed",
    ]
    assert refunds(order) == []
    assert_ledger_balanced(account)


def test_too_slow_to_rest_between_runs_delivers_at_the_service_speed(account):
    # 60 a minute cannot deliver a run of 100 in its 1-minute interval: runs follow each other.
    slow = ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=60)
    order = started(account, slow, quantity=100, runs=3, interval=1)
    for seconds, remains in [(60, 240), (100, 200), (170, 130), (299, 1)]:
        engine.tick(now=at(seconds))
        assert refresh(order).remains == remains, seconds
        with pytest.raises(OrderNotCancelable):  # it never rests, so it is never between runs
            order_cancel(account=account, order_id=order.pk, actor="test", now=at(seconds))
    engine.tick(now=at(300))
    assert refresh(order).status == OrderStatus.COMPLETED


def test_a_short_drip_feed_order_stops_at_its_limit_and_refunds_the_rest_once(account):
    short = ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=600, shortfall_percent=100)
    order = started(account, short)
    limit = order.sim_limit
    assert 60 <= limit <= 270  # 20–90 % of 300, the total
    engine.tick(now=at(INTERVAL - 1))
    assert refresh(order).remains == 300 - min(limit, 100)
    for _ in range(3):
        engine.tick(now=at(3 * INTERVAL))
    assert (refresh(order).status, order.remains) == (OrderStatus.PARTIAL, 300 - limit)
    assert refunds(order) == [partial_refund(charge=order.charge, quantity=300, remains=300 - limit)]
    assert_ledger_balanced(account)


def test_a_cancel_between_runs_ends_it_partial_refunding_the_undelivered_part_once(account, service):
    order = started(account, service)
    engine.tick(now=at(5))  # the last tick saw run 0 half done …
    assert refresh(order).remains == 250
    canceled = order_cancel(account=account, order_id=order.pk, actor="test", now=at(300))
    # … the cancel counts what is delivered now: run 0 whole, runs 1 and 2 dropped.
    assert (canceled.status, canceled.remains) == (OrderStatus.PARTIAL, 200)
    assert (refresh(order).status, order.remains) == (OrderStatus.PARTIAL, 200)
    assert refunds(order) == [Decimal("1.00000")]  # 1.50 × 200 / 300
    with pytest.raises(OrderNotCancelable):  # twice is safe
        order_cancel(account=account, order_id=order.pk, actor="test", now=at(301))
    engine.tick(now=at(3 * INTERVAL))  # the dropped runs are never released
    assert (refresh(order).status, order.remains) == (OrderStatus.PARTIAL, 200)
    assert refunds(order) == [Decimal("1.00000")]
    assert order.events.last().reason == "drip-feed canceled by reseller between runs"
    assert_ledger_balanced(account)


@pytest.mark.parametrize("seconds", [0, 5, INTERVAL + 5, 2 * INTERVAL + 1, 2 * INTERVAL + 60])
def test_a_cancel_during_a_run_or_after_the_last_release_is_refused(account, service, seconds):
    order = started(account, service)
    engine.tick(now=at(seconds))
    before = (refresh(order).status, order.remains, refresh(account).balance, order.events.count())
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="test", now=at(seconds))
    assert (refresh(order).status, order.remains, refresh(account).balance, order.events.count()) == before


def test_a_cancel_before_delivery_starts_refunds_everything(account):
    delayed = ServiceFactory(dripfeed=True, start_delay_seconds=60, speed_per_minute=600)
    order = started(account, delayed)
    assert order.status == OrderStatus.PROCESSING
    assert order_cancel(account=account, order_id=order.pk, actor="test").status == OrderStatus.CANCELED
    assert refunds(order) == [order.charge]
    assert_ledger_balanced(account)


def test_a_service_without_cancel_refuses_between_runs_too(account):
    locked_in = ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=600, cancel=False)
    order = started(account, locked_in)
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="test", now=at(300))


@pytest.mark.parametrize(
    ("plan", "seconds", "remains"),
    [({"quantity": 100, "runs": 3}, INTERVAL + 5, 150), ({"quantity": 300, "runs": "", "interval": ""}, 5, 250)],
    ids=["drip-feed", "plain"],
)
def test_an_operator_cancel_counts_what_is_delivered_now(account, service, plan, seconds, remains):
    order = started(account, service, **plan)
    engine.tick(now=at(1))  # the last tick is older than the cancel
    order_operator_cancel(order_id=order.pk, actor="operator:root", now=at(seconds))
    assert (refresh(order).status, order.remains) == (OrderStatus.PARTIAL, remains)
    assert refunds(order) == [partial_refund(charge=order.charge, quantity=300, remains=remains)]
    assert_ledger_balanced(account)


def test_the_sql_twin_matches_the_python_twin(account):
    """orders.sql.delivered_units (the tick's arithmetic, on this database) against
    orders.simulation.delivered_after, over paced and unpaced schedules and many instants."""
    orders = []
    combos = itertools.product((30, 600, 7000), (2, 3, 7), (1, 4), (100, 1000))
    for n, (speed, runs, interval, per_run) in enumerate(combos):
        kind = ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=speed, shortfall_percent=30,
                              max_quantity=1_000_000)
        orders.append(started(account, kind, quantity=per_run, runs=runs, interval=interval, link=f"@twin{n}"))
    orders.append(started(account, ServiceFactory(start_delay_seconds=0), quantity=1000, runs="", interval=""))
    for seconds in (-1, 0, 0.125, 59.875, 60, 61.5, 119.25, 240, 359.875, 1000.5, 10**5):
        now = at(seconds)
        units = delivered_units(now_epoch=now.timestamp(), minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS)
        in_sql = dict(
            Order.objects.filter(pk__in=[o.pk for o in orders]).annotate(units=units).values_list("pk", "units")
        )
        for order in orders:
            dripfeed = simulation.DripFeed.of(quantity=order.quantity, runs=order.runs, interval_minutes=order.interval)
            in_python = simulation.delivered_after(
                seconds=(now - order.deliver_from).total_seconds(), speed_per_minute=order.sim_speed,
                limit=order.sim_limit, dripfeed=dripfeed, minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS,
            )
            assert in_sql[order.pk] == in_python, (seconds, order.sim_speed, order.runs, order.interval, order.quantity)


def test_delivery_never_goes_back_and_never_passes_the_limit():
    plans = itertools.product((1, 50, 600), (2, 5), (1, 3), (10, 200), (0, 77, None))
    for speed, runs, interval, per_run, short in plans:
        dripfeed = simulation.DripFeed(runs=runs, interval_minutes=interval, per_run=per_run)
        limit = runs * per_run if short is None else short  # the limit is never above the quantity
        last = 0
        for tenth in range(0, 20 * 60 * 10 + 1, 8):
            now = simulation.delivered_after(seconds=tenth / 10, speed_per_minute=speed, limit=limit, dripfeed=dripfeed)
            assert last <= now <= min(limit, runs * per_run)
            last = now
        assert last == min(limit, runs * per_run) or speed * 20 < runs * per_run


# --- Live: HTTP, a real Celery worker and beat ---


@pytest.mark.postgres
def test_a_drip_feed_order_over_http_runs_then_a_cancel_between_runs_ends_it_partial(
    processes, api, reseller, settings
):
    # An engine "minute" lasts a second in the worker and in this process (the live server's
    # cancel), so intervals of a few API minutes pass in seconds.
    settings.FULFILLMENT_MINUTE_SECONDS = 1.0
    fast = {"FULFILLMENT_MINUTE_SECONDS": "1"}
    service = ServiceFactory(dripfeed=True, start_delay_seconds=0, speed_per_minute=600, rate=Decimal("5"))
    processes.worker(env=fast)
    processes.beat(env=fast)
    order_id = api("add", service=service.pk, link="https://instagram.com/live_drip", quantity=50, runs=3,
                   interval=6)["order"]
    assert api("balance")["balance"] == "99.25"  # 150 units at 5 per 1000, charged up front
    seen: list[dict] = []

    def remains_reaches(value: int):
        def check():
            seen.append(api("status", order=order_id))
            assert seen[-1]["status"] in {"Pending", "Processing", "In progress"}, seen[-1]
            return seen[-1]["remains"] == value
        return check

    wait_for(remains_reaches(100), timeout=30, interval=0.2, message="the first run delivered")
    first_run_seen = time.monotonic()
    wait_for(remains_reaches(50), timeout=30, interval=0.2, message="the second run delivered")
    assert time.monotonic() - first_run_seen > 3  # it rested until the next release (6 s apart)
    assert seen[-1]["status"] == "In progress" and seen[-1]["start_count"] > 0
    # Resting before the third run: it is dropped.
    assert api("cancel", order=order_id) == {"cancel": order_id, "status": "success"}
    assert api("cancel", order=order_id) == {"error": "Order cannot be canceled"}
    time.sleep(6 + 2 * TICK_SECONDS)  # past the release the cancel dropped, and a tick after it
    assert api("status", order=order_id) == {
        "charge": "0.75", "start_count": seen[-1]["start_count"], "status": "Partial", "remains": 50,
        "currency": settings.PANEL_CURRENCY,
    }
    assert api("balance")["balance"] == "99.50"  # 0.75 × 50 / 150 back, once
    order = Order.objects.get(pk=order_id)
    assert refunds(order) == [Decimal("0.25000")]
    assert_ledger_balanced(reseller)
