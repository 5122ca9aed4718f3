"""Races on real PostgreSQL: many requests at once through the live server never break the money rules.

Every request of a test is released by one barrier, so they hit the server together; nothing
here waits for time to pass or asserts on durations. A lock-order bug would surface as
PostgreSQL's "deadlock detected", i.e. an `Internal error` answer or an exception.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import requests
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.services import account_deposit
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus
from orders.services import order_cancel, order_place, order_transition
from smmpanel.errors import IllegalTransition

pytestmark = pytest.mark.postgres

INSUFFICIENT = {"error": "Insufficient balance"}
NOT_CANCELABLE = {"error": "Order cannot be canceled"}
ACTIVE_ORDER = {"error": "You have active order with this link. Please wait until order being completed."}
KEY_REUSED = {"error": "Idempotency key already used with other parameters"}


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, all released together; results in the calls' order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=60)  # only a guard against a hung test, never a pause
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url: str, fields: dict[str, Any], headers: dict[str, str] | None = None) -> dict:
    response = requests.post(url, data=fields, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def in_thread_connection(call: Callable[[], Any]) -> Callable[[], Any]:
    """A service call from a test thread: its outcome (or domain error), then its connection closed."""

    def run() -> Any:
        try:
            return call()
        except IllegalTransition as exc:
            return exc
        finally:
            connection.close()

    return run


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def ledger_total(account: Account) -> Decimal:
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or Decimal(0)


def assert_one_charge_and_at_most_one_refund_per_order(account: Account) -> None:
    for order in Order.objects.filter(account=account):
        kinds = Counter(order.ledger_entries.values_list("kind", flat=True))
        assert kinds[LedgerKind.CHARGE] == 1 and kinds[LedgerKind.REFUND] <= 1, (order.pk, kinds)
        refunded = order.ledger_entries.filter(kind=LedgerKind.REFUND).aggregate(total=Sum("amount"))["total"]
        assert (refunded or 0) <= order.charge


@pytest.fixture
def service(transactional_db) -> Service:
    return ServiceFactory(rate=Decimal("5"))  # 100 units cost 0.5, 1000 cost 5


@pytest.fixture
def url(live_server) -> str:
    # Django's test server listens with a backlog of 10 (WSGIServer.request_queue_size): fifty
    # clients connecting at once overflow it and some get reset. A second listen() on the
    # listening socket enlarges the backlog (Linux), so every client is queued until served.
    live_server.thread.httpd.socket.listen(128)
    return live_server.url + "/api/v2"


def add_fields(account: Account, service: Service, link: str, quantity: int = 100, **extra) -> dict[str, Any]:
    return {"key": account.key, "action": "add", "service": service.pk, "link": link, "quantity": quantity, **extra}


def test_concurrent_adds_never_spend_more_than_the_balance(url, service):
    account = reseller_with_key("bob", "10")  # exactly 20 orders of 0.5
    calls = [
        partial(post, url, add_fields(account, service, f"https://instagram.com/user{i}")) for i in range(50)
    ]

    answers = all_at_once(calls)

    placed = [answer for answer in answers if answer != INSUFFICIENT]
    assert len(placed) == 20 and answers.count(INSUFFICIENT) == 30, answers
    assert all(answer.keys() == {"order"} and isinstance(answer["order"], int) for answer in placed), placed
    order_ids = {answer["order"] for answer in placed}
    assert set(Order.objects.filter(account=account).values_list("id", flat=True)) == order_ids
    assert balance(account) == Decimal(0) == ledger_total(account)
    assert LedgerEntry.objects.filter(account=account, kind=LedgerKind.CHARGE).count() == 20
    assert_one_charge_and_at_most_one_refund_per_order(account)


def test_concurrent_cancels_of_one_order_refund_once(url, service, reseller):
    order = order_place(
        account=reseller, fields={"service": service.pk, "link": "@alice", "quantity": "1000"}, actor="test"
    )
    assert balance(reseller) == Decimal("95")
    calls = [partial(post, url, {"key": reseller.key, "action": "cancel", "order": order.pk})] * 20

    answers = all_at_once(calls)

    assert answers.count({"cancel": order.pk, "status": "success"}) == 1, answers
    assert answers.count(NOT_CANCELABLE) == 19, answers
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert list(order.ledger_entries.filter(kind=LedgerKind.REFUND).values_list("amount", flat=True)) == [
        Decimal("5")
    ]
    assert balance(reseller) == Decimal("100") == ledger_total(reseller)


def test_concurrent_identical_orders_for_one_link_place_one(url, service, reseller):
    calls = [partial(post, url, add_fields(reseller, service, "https://instagram.com/alice"))] * 20

    answers = all_at_once(calls)

    placed = [answer for answer in answers if answer != ACTIVE_ORDER]
    assert len(placed) == 1 and answers.count(ACTIVE_ORDER) == 19, answers
    assert Order.objects.filter(account=reseller).get().pk == placed[0]["order"]
    assert balance(reseller) == Decimal("99.5") == ledger_total(reseller)


def _nothing_written_since(account: Account, orders: int, entries: int, money: Decimal) -> None:
    assert Order.objects.filter(account=account).count() == orders
    assert LedgerEntry.objects.filter(account=account).count() == entries
    assert balance(account) == money == ledger_total(account)


def test_concurrent_retries_with_one_idempotency_key_place_one_order(url, service, reseller):
    fields = add_fields(reseller, service, "https://instagram.com/alice", idempotency_key="retry-7f3a")

    answers = all_at_once([partial(post, url, fields)] * 50)

    order = Order.objects.filter(account=reseller).get()
    assert answers == [{"order": order.pk}] * 50
    assert order.ledger_entries.filter(kind=LedgerKind.CHARGE).count() == 1
    assert balance(reseller) == Decimal("99.5") == ledger_total(reseller)

    assert post(url, fields) == {"order": order.pk}  # a later retry too
    assert post(url, {**fields, "quantity": 200}) == KEY_REUSED
    assert post(url, {**fields, "link": "https://instagram.com/bob"}) == KEY_REUSED
    _nothing_written_since(reseller, orders=1, entries=2, money=Decimal("99.5"))


def test_concurrent_retries_with_one_idempotency_key_header_place_one_order(url, service, reseller):
    fields = add_fields(reseller, service, "https://instagram.com/alice")
    headers = {"Idempotency-Key": "hdr-91c2"}

    answers = all_at_once([partial(post, url, fields, headers)] * 20)

    order = Order.objects.filter(account=reseller).get()
    assert answers == [{"order": order.pk}] * 20
    assert post(url, {**fields, "quantity": 300}, headers) == KEY_REUSED
    _nothing_written_since(reseller, orders=1, entries=2, money=Decimal("99.5"))


def test_idempotency_keys_belong_to_one_account(url, service, reseller):
    bob = reseller_with_key("bob", "10")
    mine = post(url, add_fields(reseller, service, "@target", idempotency_key="same-key"))
    theirs = post(url, add_fields(bob, service, "@target", idempotency_key="same-key"))
    assert mine != theirs
    assert balance(reseller) == Decimal("99.5") and balance(bob) == Decimal("9.5")


def test_interleaved_cancels_adds_worker_moves_and_deposits_keep_the_ledger(url, service, reseller):
    """Every path locks the account before the order; otherwise these would deadlock."""
    account_deposit(account=reseller, amount=Decimal("100"))  # 200: room for everything below

    def place(link: str) -> Order:
        fields = {"service": service.pk, "link": link, "quantity": "1000"}
        return order_place(account=reseller, fields=fields, actor="t")

    pending = [place(f"@pending{i}") for i in range(8)]
    raced = [place(f"@raced{i}") for i in range(8)]
    for order in raced:
        order_transition(order_id=order.pk, new_status=OrderStatus.PROCESSING, reason="picked up", actor="worker")

    def cancel(order: Order) -> Callable[[], dict]:
        return partial(post, url, {"key": reseller.key, "action": "cancel", "order": order.pk})

    def worker_partial(order: Order) -> Callable[[], Any]:
        return in_thread_connection(
            partial(
                order_transition,
                order_id=order.pk,
                new_status=OrderStatus.PARTIAL,
                reason="provider stopped",
                actor="worker",
                remains=250,
            )
        )

    deposit = in_thread_connection(partial(account_deposit, account=reseller, amount=Decimal("1.5")))
    calls: list[Callable[[], Any]] = []
    for i in range(8):
        calls += [
            cancel(pending[i]),
            cancel(raced[i]),
            worker_partial(raced[i]),
            partial(post, url, add_fields(reseller, service, f"@new{i}")),
        ]
    calls += [deposit] * 4

    results = all_at_once(calls)

    by_call = [results[i : i + 4] for i in range(0, 32, 4)]
    for pending_cancel, raced_cancel, worker_move, add in by_call:
        assert pending_cancel.keys() == {"cancel", "status"}, pending_cancel
        assert add.keys() == {"order"}, add
        # The reseller's cancel and the worker's move race for one order: exactly one wins.
        cancel_won = raced_cancel.keys() == {"cancel", "status"}
        assert (raced_cancel, type(worker_move)) == (
            (raced_cancel, IllegalTransition) if cancel_won else (NOT_CANCELABLE, Order)
        )
    assert all(isinstance(entry, LedgerEntry) for entry in results[32:])

    expected = Decimal("200") - 8 * Decimal("5") - 8 * Decimal("5") - 8 * Decimal("0.5") + 4 * Decimal("1.5")
    expected += 8 * Decimal("5")  # the pending orders' refunds
    for order in raced:
        order.refresh_from_db()
        assert order.status in (OrderStatus.CANCELED, OrderStatus.PARTIAL)
        expected += Decimal("5") if order.status == OrderStatus.CANCELED else Decimal("1.25")
    assert balance(reseller) == expected == ledger_total(reseller)
    assert_one_charge_and_at_most_one_refund_per_order(reseller)


# --- The lock order itself, read off the SQL each service sends ---


def _locked_tables(call: Callable[[], Any]) -> list[str]:
    """The tables whose existing rows `call` locks, in order: by SELECT … FOR [NO KEY] UPDATE, or by
    an UPDATE (which locks the rows it writes: `ledger_post`'s charge takes the account lock so)."""
    with CaptureQueriesContext(connection) as queries:
        call()
    tables = []
    for query in queries.captured_queries:
        if updated := re.match(r'UPDATE "?(\w+)"?', query["sql"]):
            tables.append(updated.group(1))
        elif re.search(r"FOR (NO KEY )?UPDATE", query["sql"]):
            tables.append(re.search(r'FROM "(\w+)"', query["sql"]).group(1))
    return tables


@pytest.fixture
def order(db) -> Order:
    account = reseller_with_key("carol", "100")
    service = ServiceFactory(rate=Decimal("5"))
    return order_place(account=account, fields={"service": service.pk, "link": "@x", "quantity": "1000"}, actor="t")


def test_cancel_locks_the_account_before_the_order(order):
    tables = _locked_tables(partial(order_cancel, account=order.account, order_id=order.pk, actor="t"))
    assert tables[:2] == ["accounts_account", "orders_order"], tables
    assert set(tables) == {"accounts_account", "orders_order"}


@pytest.mark.parametrize("new_status", [OrderStatus.CANCELED, OrderStatus.PARTIAL])
def test_refunding_transition_locks_the_account_before_the_order(order, new_status):
    order_transition(order_id=order.pk, new_status=OrderStatus.PROCESSING, reason="t", actor="worker")
    tables = _locked_tables(
        partial(order_transition, order_id=order.pk, new_status=new_status, reason="t", actor="worker", remains=10)
    )
    assert tables[:2] == ["accounts_account", "orders_order"], tables
    assert set(tables) == {"accounts_account", "orders_order"}


def test_place_locks_only_the_account(order):
    fields = {"service": order.service_id, "link": "@y", "quantity": "100"}
    tables = _locked_tables(partial(order_place, account=order.account, fields=fields, actor="t"))
    assert set(tables) == {"accounts_account"}, tables
