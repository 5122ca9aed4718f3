"""The admin's busy lists run a fixed number of queries, whether they hold 10 rows or 1 000."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Account, ApiKey, LedgerEntry, LedgerKind
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus
from smmpanel.tests.admin_helpers import operator

pytestmark = pytest.mark.django_db

# name → (list, a filter, its queries as measured for a superuser): session, user, the counts, the
# rows, the list filters' choices (orders: services, resellers, providers), the date hierarchy,
# the ledger's totals. Staff load their
# permissions on top (user and group permissions).
LISTS = {
    "orders": (reverse("admin:orders_order_changelist"), {"status__exact": "Pending"}, 10),
    "accounts": (reverse("admin:accounts_account_changelist"), {"is_active__exact": "1"}, 5),
    "ledger": (reverse("admin:accounts_ledgerentry_changelist"), {"kind__exact": "charge"}, 9),
}
PERMISSION_QUERIES = 2
STATUSES = list(OrderStatus)


def populate(rows: int) -> None:
    """`rows` resellers, each with a key, an order and its charge: every list gets `rows` rows,
    every row a different reseller (what makes an N+1 on the account show)."""
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"reseller{n}") for n in range(rows))
    accounts = Account.objects.bulk_create(Account(user=user, balance=Decimal("10")) for user in users)
    ApiKey.objects.bulk_create(
        ApiKey(account=account, prefix=f"k{n:07}", digest=f"{n:064x}") for n, account in enumerate(accounts)
    )
    services = [ServiceFactory(), ServiceFactory()]
    orders = Order.objects.bulk_create(
        Order(account=account, service=services[n % 2], link=f"https://instagram.com/u{n}",
              link_normalized=f"instagram.com/u{n}", quantity=1000, remains=1000, charge=Decimal("5"),
              status=STATUSES[n % len(STATUSES)])
        for n, account in enumerate(accounts)
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(account=order.account, kind=LedgerKind.CHARGE, amount=Decimal("-5"), balance_after=Decimal("10"),
                    order=order)
        for order in orders
    )


@pytest.mark.parametrize("rows", [10, 1000])
@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("role", ["superuser", "Support"])
def test_list_queries_do_not_grow_with_the_rows(client, django_assert_max_num_queries, rows, name, role):
    populate(rows)
    client.force_login(operator("op", superuser=True) if role == "superuser" else operator("op", role))
    url, a_filter, queries = LISTS[name]
    if role != "superuser":
        queries += PERMISSION_QUERIES

    for query in ({}, a_filter):
        with django_assert_max_num_queries(queries):
            response = client.get(url, query)
        assert response.status_code == 200
        changelist = response.context["cl"]
        assert changelist.result_count == (rows if not query else len(changelist.queryset))
        assert len(changelist.result_list) == min(100, changelist.result_count)


def test_ledger_totals_cover_every_row_the_filter_selects_not_the_page(client):
    populate(1000)
    client.force_login(operator("op", superuser=True))

    response = client.get(LISTS["ledger"][0], {"kind__exact": "charge"})

    assert len(response.context["cl"].result_list) == 100
    assert response.context["ledger_totals"] == [{"kind": "charge", "count": 1000, "total": "-5000.00"}]
