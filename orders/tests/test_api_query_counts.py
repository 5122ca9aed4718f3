"""How many SQL statements each reseller API action costs, through Django's test client with the
exact form bodies clients send. Counts, never timings (speed is measured in bench/).

Each count is an upper bound at today's value: a change that adds a query fails here and has to
raise the bound on purpose. Batch actions are measured with 1 and with 100 ids: a fixed count does
not grow with the number of ids. Where a count does grow (one service call per id), the test
asserts today's per-id cost as a bound (batch cancel and refill run one service call per id, each
its own transaction with its own refund; a set-based batch is issue #8's work).

Not counted: SAVEPOINT / RELEASE statements (here every `transaction.atomic()` is a savepoint
inside the test's transaction; in production the outermost one is BEGIN/COMMIT, which Django
does not log either), and the key's once-a-minute `last_used_at` write (a warm-up call does it
first, so the counts show the steady state).
"""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus, Refill
from orders.services import order_place, order_transition

MANY = 100  # the API's largest id list


@pytest.fixture
def reseller(db):
    return reseller_with_key("alice", Decimal("100000"))


@pytest.fixture
def service(db):
    return ServiceFactory(rate=Decimal("1"), refill=True, cancel=True, min_quantity=10, max_quantity=100_000)


def place(account, service, n: int, *, completed: bool = False) -> list[int]:
    """n Pending orders (or Completed ones, refillable), placed as `add` places them."""
    ids = []
    for i in range(n):
        order = order_place(account=account, fields={"service": service.pk, "link": f"https://instagram.com/q{i}",
                                                      "quantity": 100}, actor="test")
        if completed:
            for status in (OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED):
                order_transition(order_id=order.pk, new_status=status, reason="test", actor="worker",
                                 **({"remains": 0} if status == OrderStatus.IN_PROGRESS else {}))
        ids.append(order.pk)
    return ids


def call(client, account, action: str, **fields) -> tuple[object, list[str]]:
    """POST a form body to /api/v2; the answer and the SQL statements it ran."""
    body = urlencode({"key": account.key, "action": action, **fields})
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v2", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    return response.json(), statements


@pytest.fixture
def api(client, reseller):
    """Calls as the reseller, after a warm-up call that records the key's use."""
    call(client, reseller, "balance")

    def api_call(action: str, **fields):
        return call(client, reseller, action, **fields)

    return api_call


def ids(values: list[int]) -> str:
    return ",".join(map(str, values))


def assert_at_most(statements: list[str], bound: int) -> None:
    assert len(statements) <= bound, f"{len(statements)} queries, at most {bound} expected:\n" + "\n".join(statements)


# -- fixed counts --------------------------------------------------------------------------------

def test_balance(api):
    answer, statements = api("balance")
    assert "balance" in answer
    assert_at_most(statements, 1)  # the key (with account and user)


def test_services_does_not_grow_with_the_catalog(api, service):
    _, one = api("services")
    ServiceFactory.create_batch(49)
    answer, fifty = api("services")
    assert len(answer) == 50
    assert len(fifty) == len(one)
    # A new catalog version: key (with the version), services with their categories, the version
    # again (unchanged meanwhile, so the answer is cached), the reseller's own prices.
    assert_at_most(fifty, 4)
    again, cached = api("services")
    assert again == answer
    # From this process's catalog snapshot: the key's statement only.
    assert not [sql for sql in cached if "catalog_service" in sql or "catalog_customrate" in sql]
    assert_at_most(cached, 1)


def test_add(api, service):
    answer, statements = api("add", service=service.pk, link="https://instagram.com/new", quantity=100)
    assert "order" in answer
    # This process's first add at this catalog version: key (with the catalog version); the service;
    # the reseller's own prices; order; event; the charge (ledger_post: one conditional UPDATE …
    # RETURNING on PostgreSQL, which takes the account lock; a locking SELECT and an UPDATE
    # elsewhere) and its ledger entry; the active-link check under the lock.
    assert_at_most(statements, 8 if connection.vendor == "postgresql" else 9)
    answer, statements = api("add", service=service.pk, link="https://instagram.com/next", quantity=100)
    assert "order" in answer
    # Every later one: the service and own prices come from the process's catalog snapshot.
    assert not [sql for sql in statements if "catalog_service" in sql or "catalog_customrate" in sql]
    assert_at_most(statements, 6 if connection.vendor == "postgresql" else 7)


def test_status_of_one_order(api, reseller, service):
    (order_id,) = place(reseller, service, 1)
    answer, statements = api("status", order=order_id)
    assert answer["status"] == "Pending"
    assert_at_most(statements, 2)  # key, order


@pytest.mark.parametrize("action", ["status", "multipleStatus"])
def test_status_of_many_orders_is_one_query_whatever_their_number(api, reseller, service, action):
    placed = place(reseller, service, MANY)
    _, one = api(action, orders=ids(placed[:1]))
    answer, many = api(action, orders=ids(placed))
    assert len(answer) == MANY and all("status" in item for item in answer.values())
    assert len(many) == len(one)
    assert_at_most(many, 2)  # key, orders


def test_refill_status_of_one_and_of_many(api, reseller, service):
    placed = place(reseller, service, MANY, completed=True)
    refills = [Refill.objects.create(order_id=pk, account=reseller).pk for pk in placed]
    answer, single = api("refill_status", refill=refills[0])
    assert answer == {"status": "Pending"}
    assert_at_most(single, 2)  # key, refill
    _, one = api("refill_status", refills=ids(refills[:1]))
    answer, many = api("refill_status", refills=ids(refills))
    assert len(answer) == MANY
    assert len(many) == len(one)
    assert_at_most(many, 2)  # key, refills


def test_cancel_one_order(api, reseller, service):
    (order_id,) = place(reseller, service, 1)
    answer, statements = api("cancel", order=order_id)
    assert answer == {"cancel": order_id, "status": "success"}
    # key; account lock; order lock (with service); order update; event; refund: balance update
    # (one statement on PostgreSQL, a locking SELECT and an UPDATE elsewhere), ledger entry
    assert_at_most(statements, 7 if connection.vendor == "postgresql" else 8)


def test_refill_one_order(api, reseller, service):
    (order_id,) = place(reseller, service, 1, completed=True)
    answer, statements = api("refill", order=order_id)
    assert "refill" in answer
    # key; order lock (with service); running refill?; refilled so far; the refill
    assert_at_most(statements, 5)


# -- counts that grow with the number of ids: today's cost per id, and the goal ------------------

def per_id_cost(api, action: str, placed: list[int]) -> tuple[int, int]:
    """Statements for 1 id and for the other MANY - 1 ids: (fixed part, per id)."""
    _, one = api(action, orders=ids(placed[:1]))
    _, rest = api(action, orders=ids(placed[1:]))
    per_id = (len(rest) - len(one)) / (MANY - 2)
    return len(one), per_id


def test_cancel_batch_costs_at_most_its_single_cancel_per_id(api, reseller, service):
    placed = place(reseller, service, MANY)
    fixed, per_id = per_id_cost(api, "cancel", placed)
    assert Order.objects.filter(status=OrderStatus.CANCELED).count() == MANY
    # one order_cancel (locks, event, refund) per id; the refund's balance update is one statement
    # on PostgreSQL (ledger_post)
    postgres = connection.vendor == "postgresql"
    assert fixed <= (7 if postgres else 8) and per_id <= (6 if postgres else 7)


def test_refill_batch_costs_at_most_its_single_refill_per_id(api, reseller, service):
    placed = place(reseller, service, MANY, completed=True)
    fixed, per_id = per_id_cost(api, "refill", placed)
    assert Refill.objects.count() == MANY
    assert fixed <= 5 and per_id <= 4  # one refill_request (lock, checks, insert) per id
