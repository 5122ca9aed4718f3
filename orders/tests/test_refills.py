"""Refills through real HTTP (`refill`, `refill_status`, single and batch, every API.md error) and
through the engine driven at chosen instants (what a refill re-delivers, and when).

A refused request changes nothing: no order, event, ledger row, balance or refill.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import requests
from django.utils import timezone

from accounts.models import Account
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders import engine
from orders.models import Order, OrderStatus, Refill, RefillStatus
from orders.services import order_cancel, order_place, order_start, order_transition
from orders.services.refills import refill_finish, refill_request
from orders.tests.api_helpers import snapshot, typed

S = OrderStatus
NOT_AVAILABLE = "Refill is not available for this order"
NOT_AVAILABLE_ITEM = {"error": NOT_AVAILABLE}
ORDER_NOT_FOUND = {"error": "Order not found"}
REFILL_NOT_FOUND = {"error": "Refill not found"}


# -- helpers -----------------------------------------------------------------------------------

def everything() -> dict[str, Any]:
    """api_helpers.snapshot plus the refills: what a refused refill request must leave alone."""
    refills = Refill.objects.order_by("pk").values_list("pk", "order_id", "account_id", "status", "quantity")
    return {**snapshot(), "refills": list(refills)}


def refused(api, message: str, action: str, **fields) -> None:
    before = everything()
    assert typed(api(action, **fields)) == typed({"error": message}), (action, fields)
    assert everything() == before, (action, fields)


def order_in(status: str, account: Account, service: Service, *, quantity: int = 1000, delivered: int | None = None,
             link: str | None = None) -> Order:
    """An order placed as `add` places it and moved to `status` as the worker (or a cancel) moves it."""
    link = link or f"https://instagram.com/user{Order.objects.count()}"
    order = order_place(account=account, fields={"service": service.pk, "link": link, "quantity": quantity},
                        actor="test")
    move = partial(order_transition, order_id=order.pk, reason="test", actor="worker")
    if status == S.CANCELED:
        order_cancel(account=account, order_id=order.pk, actor="test")
    elif status != S.PENDING:
        move(new_status=S.PROCESSING)
        if status != S.PROCESSING:
            move(new_status=S.IN_PROGRESS, remains=quantity - (quantity // 2 if delivered is None else delivered))
        if status in (S.COMPLETED, S.PARTIAL):
            move(new_status=status)
    order.refresh_from_db()
    assert order.status == status
    return order


def client_for(api, account: Account):
    return type(api)(api.url.removesuffix("/api/v2"), account.key)


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("5"), refill=True, drop_percent=10)  # 1000 units cost 5


@pytest.fixture
def bob(db) -> Account:
    return reseller_with_key("bob", "100")


# -- refill: answers ---------------------------------------------------------------------------

def test_a_refill_of_a_completed_order_answers_its_id_and_charges_nothing(api, reseller, service):
    order = order_in(S.COMPLETED, reseller, service)
    before = snapshot()

    answer = api("refill", order=order.pk)

    refill = Refill.objects.get()
    assert typed(answer) == typed({"refill": refill.pk})
    assert (refill.order_id, refill.account_id, refill.status, refill.quantity) == (
        order.pk, reseller.pk, RefillStatus.PENDING, 100,
    )
    assert snapshot() == before  # refills move no money and no order
    assert typed(api("refill_status", refill=refill.pk)) == typed({"status": "Pending"})


def test_a_partial_order_can_be_refilled_for_its_share_of_what_it_delivered(api, reseller, service):
    order = order_in(S.PARTIAL, reseller, service, delivered=500)

    answer = api("refill", order=order.pk)

    assert Refill.objects.get(pk=answer["refill"]).quantity == 50


def test_a_batch_refill_answers_item_by_item(api, reseller, service, bob):
    completed = order_in(S.COMPLETED, reseller, service)
    partial_order = order_in(S.PARTIAL, reseller, service)
    canceled = order_in(S.CANCELED, reseller, service)
    bobs = order_in(S.COMPLETED, bob, service)
    orders = f"{completed.pk},{canceled.pk},999999, abc ,{bobs.pk},{partial_order.pk},{completed.pk}"

    answer = api("refill", orders=orders)

    refills = dict(Refill.objects.values_list("order_id", "pk"))
    assert set(refills) == {completed.pk, partial_order.pk}
    assert typed(answer) == typed([
        {"order": completed.pk, "refill": refills[completed.pk]},
        {"order": canceled.pk, "refill": NOT_AVAILABLE_ITEM},
        {"order": 999999, "refill": ORDER_NOT_FOUND},
        {"order": "abc", "refill": ORDER_NOT_FOUND},
        {"order": bobs.pk, "refill": ORDER_NOT_FOUND},
        {"order": partial_order.pk, "refill": refills[partial_order.pk]},
    ])
    assert not bobs.refills.exists()
    # A second batch: both now have a refill running, so each is refused on its own.
    before = everything()
    assert typed(api("refill", orders=f"{completed.pk},{partial_order.pk}")) == typed([
        {"order": completed.pk, "refill": NOT_AVAILABLE_ITEM},
        {"order": partial_order.pk, "refill": NOT_AVAILABLE_ITEM},
    ])
    assert everything() == before


def test_a_batch_refill_as_a_json_array(api, reseller, service):
    order = order_in(S.COMPLETED, reseller, service)
    response = requests.post(api.url, json={"key": api.key, "action": "refill", "orders": [order.pk, 999999]},
                             timeout=30)
    refill = Refill.objects.get(order=order)
    assert response.json() == [{"order": order.pk, "refill": refill.pk}, {"order": 999999, "refill": ORDER_NOT_FOUND}]


# -- refill: eligibility -----------------------------------------------------------------------

def test_no_refill_when_the_service_has_refill_off(api, reseller):
    order = order_in(S.COMPLETED, reseller, ServiceFactory(refill=False, drop_percent=10))
    refused(api, NOT_AVAILABLE, "refill", order=order.pk)
    before = everything()
    assert api("refill", orders=str(order.pk)) == [{"order": order.pk, "refill": NOT_AVAILABLE_ITEM}]
    assert everything() == before


@pytest.mark.parametrize("status", [S.PENDING, S.PROCESSING, S.IN_PROGRESS, S.CANCELED])
def test_no_refill_of_an_order_that_has_not_finished_delivering(api, reseller, service, status):
    order = order_in(status, reseller, service)
    refused(api, NOT_AVAILABLE, "refill", order=order.pk)
    before = everything()
    assert api("refill", orders=str(order.pk)) == [{"order": order.pk, "refill": NOT_AVAILABLE_ITEM}]
    assert everything() == before


def test_no_refill_after_the_services_refill_days(api, reseller):
    service = ServiceFactory(refill_days=7, drop_percent=10)
    old = order_in(S.COMPLETED, reseller, service)
    recent = order_in(S.COMPLETED, reseller, service)
    now = timezone.now()
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=7, minutes=1))
    Order.objects.filter(pk=recent.pk).update(created_at=now - timedelta(days=6, hours=23))

    refused(api, NOT_AVAILABLE, "refill", order=old.pk)

    assert Refill.objects.get(pk=api("refill", order=recent.pk)["refill"]).order_id == recent.pk


@pytest.mark.parametrize("running", [RefillStatus.PENDING, RefillStatus.IN_PROGRESS])
def test_no_second_refill_while_one_runs(api, reseller, service, running):
    order = order_in(S.COMPLETED, reseller, service)
    first = api("refill", order=order.pk)["refill"]
    Refill.objects.filter(pk=first).update(status=running)

    refused(api, NOT_AVAILABLE, "refill", order=order.pk)

    Refill.objects.filter(pk=first).update(status=RefillStatus.COMPLETED)
    second = api("refill", order=order.pk)["refill"]
    assert list(order.refills.order_by("pk").values_list("pk", "status")) == [
        (first, RefillStatus.COMPLETED), (second, RefillStatus.PENDING),
    ]


def test_another_accounts_order_or_an_unknown_one_is_not_found(api, reseller, service, bob):
    bobs = order_in(S.COMPLETED, bob, service)
    refused(api, "Order not found", "refill", order=bobs.pk)
    refused(api, "Order not found", "refill", order=999999)
    refused(api, "Invalid parameter: order", "refill", order="abc")
    assert typed(client_for(api, bob)("refill", order=bobs.pk)) == typed({"refill": Refill.objects.get().pk})


def test_missing_parameters(api, reseller, service):
    order_in(S.COMPLETED, reseller, service)
    refused(api, "Missing parameters", "refill")
    refused(api, "Missing parameters", "refill", order="")
    refused(api, "Missing parameters", "refill", order="  ", orders="  ")
    refused(api, "Missing parameters", "refill", orders=" , ,")
    refused(api, "Missing parameters", "refill_status")
    refused(api, "Missing parameters", "refill_status", refill="")
    refused(api, "Missing parameters", "refill_status", refills=",")


def test_more_than_100_ids_are_too_many(api, reseller, service):
    order = order_in(S.COMPLETED, reseller, service)
    too_many = ",".join(str(n) for n in range(1, 102))
    refused(api, "Too many orders in one request", "refill", orders=too_many)
    refused(api, "Too many orders in one request", "refill_status", refills=too_many)

    # Exactly 100 (one of them the real order) are answered one by one.
    hundred = [order.pk, *range(10_000, 10_099)]
    answer = api("refill", orders=",".join(map(str, hundred)))
    assert [item["order"] for item in answer] == hundred
    assert answer[0] == {"order": order.pk, "refill": Refill.objects.get().pk}
    assert all(item["refill"] == ORDER_NOT_FOUND for item in answer[1:])
    statuses = api("refill_status", refills=",".join(map(str, [Refill.objects.get().pk, *range(10_000, 10_099)])))
    assert len(statuses) == 100 and statuses[0]["status"] == "Pending"


# -- refill_status -----------------------------------------------------------------------------

def test_refill_status_single_and_batch(api, reseller, service, bob):
    mine = Refill.objects.get(pk=api("refill", order=order_in(S.COMPLETED, reseller, service).pk)["refill"])
    done = Refill.objects.get(pk=api("refill", order=order_in(S.COMPLETED, reseller, service).pk)["refill"])
    Refill.objects.filter(pk=done.pk).update(status=RefillStatus.COMPLETED)
    bobs = refill_request(account=bob, order_id=order_in(S.COMPLETED, bob, service).pk)

    assert typed(api("refill_status", refill=mine.pk)) == typed({"status": "Pending"})
    assert typed(api("refill_status", refill=done.pk)) == typed({"status": "Completed"})
    refused(api, "Refill not found", "refill_status", refill=bobs.pk)
    refused(api, "Refill not found", "refill_status", refill=999999)
    refused(api, "Invalid parameter: refill", "refill_status", refill="abc")

    before = everything()
    answer = api("refill_status", refills=f"{mine.pk},{bobs.pk}, 999999 ,x1,{done.pk},{mine.pk}")
    assert typed(answer) == typed([
        {"refill": mine.pk, "status": "Pending"},
        {"refill": bobs.pk, "status": REFILL_NOT_FOUND},
        {"refill": 999999, "status": REFILL_NOT_FOUND},
        {"refill": "x1", "status": REFILL_NOT_FOUND},
        {"refill": done.pk, "status": "Completed"},
    ])
    assert everything() == before
    # Bob sees his own, and not alice's.
    assert client_for(api, bob)("refill_status", refills=f"{bobs.pk},{mine.pk}") == [
        {"refill": bobs.pk, "status": "Pending"}, {"refill": mine.pk, "status": REFILL_NOT_FOUND},
    ]


# -- races (real PostgreSQL) ---------------------------------------------------------------------

def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Every call in its own thread, all released together by one barrier (as test_concurrency)."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=60)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.postgres
def test_twenty_simultaneous_refills_of_one_order_open_exactly_one(live_server, api, reseller, service):
    live_server.thread.httpd.socket.listen(128)  # see test_concurrency.url: room for every client at once
    order = order_in(S.COMPLETED, reseller, service)
    before = snapshot()

    answers = all_at_once([partial(api, "refill", order=order.pk) for _ in range(20)])

    refill = Refill.objects.get()
    assert sorted(answers, key=str) == sorted([{"refill": refill.pk}] + [NOT_AVAILABLE_ITEM] * 19, key=str), answers
    assert (refill.order_id, refill.status, refill.quantity) == (order.pk, RefillStatus.PENDING, 100)
    assert snapshot() == before


@pytest.mark.postgres
def test_twenty_simultaneous_batch_refills_open_one_per_order(live_server, api, reseller, service):
    live_server.thread.httpd.socket.listen(128)
    orders = [order_in(S.COMPLETED, reseller, service) for _ in range(3)]
    ids = ",".join(str(order.pk) for order in orders)

    answers = all_at_once([partial(api, "refill", orders=ids) for _ in range(20)])

    assert Refill.objects.count() == 3
    for order in orders:
        items = [item["refill"] for answer in answers for item in answer if item["order"] == order.pk]
        assert sorted(items, key=str) == sorted([order.refills.get().pk] + [NOT_AVAILABLE_ITEM] * 19, key=str)


# -- the engine: what a refill re-delivers, and when ---------------------------------------------

T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("engine", "1000")


def delivered(account: Account, service: Service, *, quantity: int = 1000, link: str = "https://instagram.com/t"):
    """An order placed and delivered by the engine: started at 0, Completed by the tick at 1200 s."""
    order = order_place(account=account, fields={"service": service.pk, "link": link, "quantity": quantity},
                        actor="test")
    order_start(order_id=order.pk, now=at(0))
    engine.tick(now=at(1200))
    order.refresh_from_db()
    assert (order.status, order.remains) == (S.COMPLETED, 0)
    return order


def refill_of(refill: Refill) -> tuple[str, int]:
    refill.refresh_from_db()
    return refill.status, refill.quantity


def test_a_refill_redelivers_the_drop_at_the_service_speed(account):
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=50, drop_percent=10)  # 1000 in 20 minutes
    order = delivered(account, service)
    refill = refill_request(account=account, order_id=order.pk)
    assert refill_of(refill) == (RefillStatus.PENDING, 100)  # 10 % of 1000

    moved = engine.tick(now=at(1300))
    assert moved["refills_started"] == 1
    assert refill_of(refill) == (RefillStatus.IN_PROGRESS, 100) and refill.deliver_from == at(1300)
    engine.tick(now=at(1300 + 119))  # 100 units at 50 a minute take 2 minutes
    assert refill_of(refill) == (RefillStatus.IN_PROGRESS, 100)
    moved = engine.tick(now=at(1300 + 120))
    assert moved["refills_completed"] == 1
    assert refill_of(refill) == (RefillStatus.COMPLETED, 100)
    moved = engine.tick(now=at(1300 + 600))
    assert not any(key.startswith("refills_") for key in moved), moved
    order.refresh_from_db()
    assert (order.status, order.remains) == (S.COMPLETED, 0)  # the order itself is not touched


def test_nothing_dropped_is_rejected(account):
    order = delivered(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=50, drop_percent=0))
    refill = refill_request(account=account, order_id=order.pk)
    assert refill_of(refill) == (RefillStatus.PENDING, 0)

    moved = engine.tick(now=at(1300))

    assert moved["refills_rejected"] == 1 and "refills_started" not in moved
    assert refill_of(refill) == (RefillStatus.REJECTED, 0) and refill.reason
    # Rejected is not running: another may be asked for (and is rejected again).
    again = refill_request(account=account, order_id=order.pk)
    engine.tick(now=at(1400))
    assert refill_of(again) == (RefillStatus.REJECTED, 0)


def test_a_second_refill_after_a_completed_one_is_rejected(account):
    order = delivered(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=600, drop_percent=25))
    first = refill_request(account=account, order_id=order.pk)
    engine.tick(now=at(1300))
    engine.tick(now=at(1400))  # 250 units at 600 a minute take 25 s
    assert refill_of(first) == (RefillStatus.COMPLETED, 250)

    second = refill_request(account=account, order_id=order.pk)
    assert refill_of(second) == (RefillStatus.PENDING, 0)  # nothing dropped since the refill
    engine.tick(now=at(1500))
    assert refill_of(second) == (RefillStatus.REJECTED, 0)


def test_an_operator_rejected_refill_does_not_count_as_redelivered(account):
    order = delivered(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=50, drop_percent=10))
    first = refill_request(account=account, order_id=order.pk)
    assert refill_finish(refill_id=first.pk, status=RefillStatus.REJECTED, reason="operator") is True
    assert refill_of(refill_request(account=account, order_id=order.pk)) == (RefillStatus.PENDING, 100)


@pytest.mark.parametrize("status", [RefillStatus.COMPLETED, RefillStatus.REJECTED])
def test_refill_finish_twice_is_safe(account, status):
    order = delivered(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=50, drop_percent=10))
    refill = refill_request(account=account, order_id=order.pk)
    engine.tick(now=at(1300))
    assert refill_of(refill)[0] == RefillStatus.IN_PROGRESS

    assert refill_finish(refill_id=refill.pk, status=status, reason="by root") is True
    refill.refresh_from_db()
    finished = (refill.status, refill.reason, refill.updated_at)
    assert refill_finish(refill_id=refill.pk, status=status, reason="by root again") is False
    other = RefillStatus.REJECTED if status == RefillStatus.COMPLETED else RefillStatus.COMPLETED
    assert refill_finish(refill_id=refill.pk, status=other, reason="changed mind") is False
    engine.tick(now=at(1300 + 600))  # the tick does not move a finished refill either
    refill.refresh_from_db()
    assert (refill.status, refill.reason, refill.updated_at) == finished == (status, "by root", finished[2])
    assert refill_finish(refill_id=999999, status=status) is False


def test_a_refill_takes_the_engines_minutes(account, settings):
    settings.FULFILLMENT_MINUTE_SECONDS = 1  # the test knob the drip-feed worker test uses
    order = delivered(account, ServiceFactory(start_delay_seconds=0, speed_per_minute=50, drop_percent=10))
    refill = refill_request(account=account, order_id=order.pk)
    engine.tick(now=at(1300))
    engine.tick(now=at(1301.9))  # 100 units at 50 a "minute" of 1 s take 2 s
    assert refill_of(refill)[0] == RefillStatus.IN_PROGRESS
    engine.tick(now=at(1302))
    assert refill_of(refill)[0] == RefillStatus.COMPLETED
