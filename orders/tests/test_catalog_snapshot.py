"""`add` prices and checks orders from this process's catalog snapshot (catalog/snapshot.py), and
still sees every catalog change at the next call, however it was made: the version token read
with the caller's key changes in the writing transaction. Through the API with Django's test client.
"""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import reseller_with_key
from catalog.models import CustomRate, Service
from catalog.tests.factories import ServiceFactory
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return reseller_with_key("alice", Decimal("1000"))


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("2"), min_quantity=10, max_quantity=1000)


class Adds:
    def __init__(self, client, reseller):
        self.client, self.reseller, self.n = client, reseller, 0

    def __call__(self, service_id: int, quantity: int = 100) -> tuple[dict, list[str]]:
        """Place an order (a new link each time); the answer and the SQL it ran."""
        self.n += 1
        body = urlencode({"key": self.reseller.key, "action": "add", "service": service_id,
                          "link": f"https://instagram.com/snap{self.n}", "quantity": quantity})
        with CaptureQueriesContext(connection) as captured:
            answer = self.client.post("/api/v2", body, content_type="application/x-www-form-urlencoded").json()
        return answer, [q["sql"] for q in captured.captured_queries]


@pytest.fixture
def add(client, alice) -> Adds:
    return Adds(client, alice)


def charge_of(answer: dict) -> Decimal:
    return Order.objects.get(pk=answer["order"]).charge


def catalog_reads(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "catalog_service" in sql or "catalog_customrate" in sql]


def test_the_second_add_reads_no_catalog_row(add, service):
    first, statements = add(service.pk)
    assert charge_of(first) == Decimal("0.2") and catalog_reads(statements)
    second, statements = add(service.pk)
    assert charge_of(second) == Decimal("0.2")
    assert catalog_reads(statements) == []


def test_a_price_changed_by_queryset_update_is_charged_at_the_next_add(add, service):
    add(service.pk)
    Service.objects.filter(pk=service.pk).update(rate=Decimal("3"))
    answer, statements = add(service.pk)
    assert charge_of(answer) == Decimal("0.3")
    assert catalog_reads(statements)  # read again: the token changed


def test_a_price_changed_by_sql_no_django_code_runs_is_charged_at_the_next_add(add, service):
    add(service.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_service SET rate = 4 WHERE id = %s", [service.pk])
    answer, _ = add(service.pk)
    assert charge_of(answer) == Decimal("0.4")


def test_an_own_price_given_later_is_charged_at_the_next_add(add, alice, service):
    add(service.pk)
    CustomRate.objects.create(account=alice, service=service, rate=Decimal("1"))
    answer, _ = add(service.pk)
    assert charge_of(answer) == Decimal("0.1")
    CustomRate.objects.filter(account=alice).delete()
    answer, _ = add(service.pk)
    assert charge_of(answer) == Decimal("0.2")


def test_a_service_switched_off_or_bounded_is_obeyed_at_the_next_add(add, service):
    add(service.pk)
    Service.objects.filter(pk=service.pk).update(max_quantity=50)
    answer, _ = add(service.pk)
    assert "50" in answer["error"]  # the bound, as API.md words it
    Service.objects.filter(pk=service.pk).update(is_active=False)
    answer, _ = add(service.pk, quantity=20)
    assert answer == {"error": "Service not found"}


def test_a_service_that_was_missing_is_found_once_it_exists(add, service):
    answer, _ = add(service.pk + 1000)
    assert answer == {"error": "Service not found"}  # remembered as missing for this version
    created = ServiceFactory(rate=Decimal("1"), min_quantity=10, max_quantity=1000)
    answer, _ = add(created.pk)
    assert charge_of(answer) == Decimal("0.1")


def test_one_resellers_own_price_is_not_another_ones(client, add, alice, service):
    CustomRate.objects.create(account=alice, service=service, rate=Decimal("1"))
    assert charge_of(add(service.pk)[0]) == Decimal("0.1")
    bob = Adds(client, reseller_with_key("bob", Decimal("1000")))
    assert charge_of(bob(service.pk)[0]) == Decimal("0.2")
    assert charge_of(add(service.pk)[0]) == Decimal("0.1")
