"""Races between resellers, workers and beats on real PostgreSQL: money moves once, whoever wins.

The direct tests release a cancel, the start task and ticks together (threads and a barrier,
many times over); the live ones do the same through HTTP and real Celery workers and beats on a
private Redis. Nothing waits for time to pass except to aim a request at a moment; outcomes are
checked for every order, whichever side won its race.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import engine, simulation, tasks
from orders.models import Order, OrderStatus
from orders.services import order_cancel, order_place, order_start
from orders.tests.live_processes import TICK_SECONDS, wait_for
from smmpanel.errors import OrderNotCancelable
from smmpanel.money import partial_refund

pytestmark = pytest.mark.postgres

NOT_CANCELABLE = {"error": "Order cannot be canceled"}
STARTED = (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED)
REPEATS = 25
T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, all released together; results (or the domain error
    refusing a cancel) in the calls' order. Each thread closes its database connection."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=60)  # only a guard against a hung test, never a pause
        try:
            return call()
        except OrderNotCancelable as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_balanced(account: Account) -> None:
    balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    assert balance == LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]


def assert_canceled_xor_started(order: Order) -> bool:
    """Canceled with exactly one full refund and never started, or started with no refund at all.
    Returns whether it was canceled."""
    order.refresh_from_db()
    kinds = list(order.ledger_entries.order_by("pk").values_list("kind", "amount"))
    statuses = list(order.events.values_list("new_status", flat=True))
    assert order.hold_reason == "", order.pk
    if order.status == OrderStatus.CANCELED:
        assert kinds == [(LedgerKind.CHARGE, -order.charge), (LedgerKind.REFUND, order.charge)], order.pk
        assert statuses in (["Pending", "Canceled"], ["Pending", "Processing", "Canceled"]), (order.pk, statuses)
        assert order.remains == order.quantity
        return True
    assert order.status in STARTED, (order.pk, order.status)
    assert kinds == [(LedgerKind.CHARGE, -order.charge)], order.pk
    assert statuses[:3] == ["Pending", "Processing", "In progress"] and "Canceled" not in statuses, statuses
    return False


# --- Direct: the services and the tick in threads, no broker ---


@pytest.fixture
def account(transactional_db) -> Account:
    return reseller_with_key("racer", "1000")


def place(account: Account, service, link: str, quantity: int = 1000) -> Order:
    fields = {"service": service.pk, "link": link, "quantity": quantity}
    return order_place(account=account, fields=fields, actor="test")


def cancel(account: Account, order: Order) -> Callable[[], Any]:
    return partial(order_cancel, account=account, order_id=order.pk, actor="test")


def test_a_cancel_racing_the_start_task_either_refunds_or_lets_it_start(account):
    service = ServiceFactory(start_delay_seconds=0)
    for n in range(REPEATS):
        order = place(account, service, f"@start{n}")
        # The task body as a worker runs it, twice: a duplicate wake-up races too.
        start_task = partial(tasks.order_start, order.pk)
        answer, *_ = all_at_once([cancel(account, order), start_task, start_task])
        assert assert_canceled_xor_started(order) == isinstance(answer, Order), answer
    assert_balanced(account)


def test_a_cancel_racing_the_tick_that_starts_delivery_either_refunds_or_lets_it_start(account):
    service = ServiceFactory(start_delay_seconds=60)
    for n in range(REPEATS):
        order = place(account, service, f"@tick{n}")
        order_start(order_id=order.pk, now=at(0))  # Processing until at(60)
        # Two ticks at once, as from two beats.
        tick = partial(engine.tick, now=at(61))
        answer, *_ = all_at_once([cancel(account, order), tick, tick])
        assert assert_canceled_xor_started(order) == isinstance(answer, Order), answer
    assert_balanced(account)


def test_a_cancel_racing_the_tick_that_completes_an_order_is_refused(account):
    service = ServiceFactory(start_delay_seconds=0)
    for n in range(REPEATS):
        order = place(account, service, f"@done{n}")
        order_start(order_id=order.pk, now=at(0))
        tick = partial(engine.tick, now=at(3600))
        answer, *_ = all_at_once([cancel(account, order), tick, tick])
        assert isinstance(answer, OrderNotCancelable), answer
        engine.tick(now=at(3600))  # completes it if both ticks found it locked by the cancel
        assert not assert_canceled_xor_started(order) and order.status == OrderStatus.COMPLETED
    assert_balanced(account)


def test_a_tick_with_an_older_clock_never_takes_delivered_units_back(account):
    order = place(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=600), "@slow")
    order_start(order_id=order.pk, now=at(0))
    engine.tick(now=at(30))
    order.refresh_from_db()
    assert order.remains == 700
    engine.tick(now=at(10))  # a slow tick that read the clock earlier, finishing its batch later
    order.refresh_from_db()
    assert order.remains == 700


def test_overlapping_ticks_with_different_clocks_refund_a_short_order_exactly(account):
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=1000, shortfall_percent=100)
    for n in range(REPEATS):
        order = place(account, service, f"@short{n}")
        order_start(order_id=order.pk, now=at(0))
        all_at_once([partial(engine.tick, now=at(3600)), partial(engine.tick, now=at(1))])
        engine.tick(now=at(3600))  # finishes it if the late tick found it locked and skipped it
        order.refresh_from_db()
        assert order.status == OrderStatus.PARTIAL and order.remains == order.quantity - order.sim_limit, n
        refunds = list(order.ledger_entries.filter(kind=LedgerKind.REFUND).values_list("amount", flat=True))
        assert refunds == [partial_refund(charge=order.charge, quantity=order.quantity, remains=order.remains)]
    assert_balanced(account)


# --- Live: HTTP, Celery workers and beats ---


@pytest.fixture
def busy_api(api, live_server):
    # Django's test server listens with a backlog of 10; a second listen() enlarges it (Linux),
    # so forty clients connecting at once are queued instead of reset.
    live_server.thread.httpd.socket.listen(128)
    return api


def test_cancels_racing_the_worker_refund_exactly_the_orders_it_did_not_start(processes, busy_api, reseller):
    api = busy_api
    at_once = ServiceFactory(start_delay_seconds=0, speed_per_minute=6000)
    delayed = ServiceFactory(start_delay_seconds=2, speed_per_minute=6000)
    processes.worker()
    processes.beat()

    # 1. Started at pickup: each cancel follows its add at once, racing the wake-up the add sent.
    def add_then_cancel(n: int) -> tuple[int, dict]:
        order_id = api("add", service=at_once.pk, link=f"https://instagram.com/now{n}", quantity=100)["order"]
        return order_id, api("cancel", order=order_id)

    answers = dict(all_at_once([partial(add_then_cancel, n) for n in range(40)]))

    # 2. Started by the tick after a delay: each cancel aimed somewhere in the tick interval in
    # which its order's delay ends, racing the tick that moves it to In progress.
    added = all_at_once(
        [partial(api, "add", service=delayed.pk, link=f"https://instagram.com/later{n}", quantity=100)
         for n in range(40)]
    )
    later_ids = [answer["order"] for answer in added]
    picked_up = Order.objects.filter(pk__in=later_ids, deliver_from__isnull=False)
    wait_for(lambda: picked_up.count() == len(later_ids), timeout=30, message="the worker to pick all up")
    deliver_from = dict(picked_up.values_list("pk", "deliver_from"))

    def aimed_cancel(n: int, order_id: int) -> tuple[int, dict]:
        aim = deliver_from[order_id] + timedelta(seconds=TICK_SECONDS * (n % 10) / 10)
        time.sleep(max(0.0, (aim - timezone.now()).total_seconds()))  # aiming, not waiting for a result
        return order_id, api("cancel", order=order_id)

    answers |= dict(all_at_once([partial(aimed_cancel, n, order_id) for n, order_id in enumerate(later_ids)]))

    outcomes = Counter()
    for order in Order.objects.filter(pk__in=answers):
        answer = answers[order.pk]
        canceled = assert_canceled_xor_started(order)
        assert answer == ({"cancel": order.pk, "status": "success"} if canceled else NOT_CANCELABLE), (order.pk, answer)
        outcomes[order.service_id, canceled] += 1
    assert sum(outcomes.values()) == 80
    assert_balanced(reseller)
    print("canceled/started per service:", dict(outcomes))  # the mix varies; the rules do not


def test_two_workers_and_two_beats_deliver_like_one(processes, busy_api, reseller):
    api = busy_api
    services = [
        ServiceFactory(start_delay_seconds=0, speed_per_minute=6000),
        ServiceFactory(start_delay_seconds=1, speed_per_minute=3000, shortfall_percent=100),  # all stop short
        ServiceFactory(start_delay_seconds=0, speed_per_minute=6000, shortfall_percent=50, rate=Decimal("3.3")),
    ]
    processes.worker()
    processes.worker()
    processes.beat()
    processes.beat()

    adds = [
        partial(api, "add", service=services[n % 3].pk, link=f"https://instagram.com/u{n}", quantity=100 + 50 * (n % 3))
        for n in range(30)
    ]
    ids = [answer["order"] for answer in all_at_once(adds)]
    orders = Order.objects.filter(pk__in=ids)
    last_remains: dict[int, int] = {}

    def all_finished() -> bool:
        rows = list(orders.values_list("pk", "status", "quantity", "remains", "sim_limit"))
        for pk, status, quantity, remains, limit in rows:
            # Never more delivered than ordered or planned, and never taken back by a later tick.
            assert 0 <= remains <= last_remains.get(pk, quantity) and quantity - remains <= (limit or 0), pk
            last_remains[pk] = remains
        return all(status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL) for _, status, *_ in rows)

    wait_for(all_finished, timeout=60, interval=0.2, message="every order to finish")

    refunded = Decimal(0)
    for order in orders.select_related("service"):
        limit = simulation.delivery_limit(
            order_id=order.pk, quantity=order.quantity, shortfall_percent=order.service.shortfall_percent
        )
        final = OrderStatus.COMPLETED if limit == order.quantity else OrderStatus.PARTIAL
        expected_refund = partial_refund(charge=order.charge, quantity=order.quantity, remains=order.quantity - limit)
        assert (order.status, order.remains, order.sim_limit) == (final, order.quantity - limit, limit), order.pk
        assert order.start_count == simulation.base_count(order.link_normalized) > 0
        assert order.hold_reason == "" and order.attempts == 0
        ledger = list(order.ledger_entries.order_by("pk").values_list("kind", "amount"))
        assert ledger == [(LedgerKind.CHARGE, -order.charge)] + (
            [(LedgerKind.REFUND, expected_refund)] if final == OrderStatus.PARTIAL else []
        ), order.pk
        events = list(order.events.values_list("old_status", "new_status"))
        assert events == [("", "Pending"), ("Pending", "Processing"), ("Processing", "In progress"),
                          ("In progress", final)], (order.pk, events)
        refunded += expected_refund if final == OrderStatus.PARTIAL else 0
    assert orders.filter(service=services[1], status=OrderStatus.PARTIAL).count() == 10
    charged = orders.aggregate(total=Sum("charge"))["total"]
    assert Account.objects.get(pk=reseller.pk).balance == Decimal(100) - charged + refunded
    assert_balanced(reseller)
