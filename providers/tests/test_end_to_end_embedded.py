"""End to end on `make run`'s embedded defaults: two panels on SQLite and the filesystem broker,
each under its own VAR_DIR, no database or Redis server — B being A's provider (live_panels.py).

The PostgreSQL pair (test_end_to_end.py) covers every path; this one shows forwarding, polling
and refunds work on the defaults an operator tries first.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from orders.tests.live_processes import wait_for
from providers.tests.live_panels import started_panels

# The money invariants, read by the panel's own Django (its database is SQLite, not ours).
MONEY_CHECK = """
import json
from django.db.models import Count, Q, Sum
from accounts.models import Account
from orders.models import Order
unbalanced = [a.pk for a in Account.objects.annotate(total=Sum("ledger__amount")) if a.balance != (a.total or 0)]
entries = Order.objects.annotate(
    charges=Count("ledger_entries", filter=Q(ledger_entries__kind="charge")),
    refunds=Count("ledger_entries", filter=Q(ledger_entries__kind="refund")),
    refunded=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind="refund")),
)
wrong = [o.pk for o in entries if o.charges != 1 or o.refunds > 1 or (o.refunded or 0) > o.charge]
print(json.dumps({"unbalanced": unbalanced, "wrong": wrong}))
"""


@pytest.fixture(scope="module")
def embedded_panels(tmp_path_factory):
    with started_panels(tmp_path_factory.mktemp("embedded"), embedded=True) as panels:
        yield panels


def test_orders_forwarded_between_two_embedded_panels_complete_and_refund(embedded_panels):
    p = embedded_panels

    def place(service: str, link: str) -> int:
        answer = p.a.api(p.reseller_key, "add", service=p.a_services[service], link=link, quantity=1000)
        assert set(answer) == {"order"}, answer
        return answer["order"]

    def status(order_id: int) -> dict:
        return p.a.api(p.reseller_key, "status", order=order_id)

    complete = place("fast", "https://instagram.com/embedded_complete")
    partial = place("short", "https://instagram.com/embedded_partial")
    wait_for(lambda: status(complete)["status"] == "Completed", timeout=90, interval=0.5, message="Completed on A")
    wait_for(lambda: status(partial)["status"] == "Partial", timeout=90, interval=0.5, message="Partial on A")

    assert status(complete) | {"start_count": None} == {
        "charge": "5.00", "start_count": None, "status": "Completed", "remains": 0, "currency": "TRY",
    }
    remains = status(partial)["remains"]
    assert 0 < remains < 1000
    # B's side: A's account there paid 4.00 for each, and got the undelivered part of one back.
    on_b = Decimal(100) - 8 + Decimal(4) * remains / 1000
    assert Decimal(p.b.api(p.a_key_on_b, "balance")["balance"]) == on_b
    # A's reseller: 5.00 each, the partial's undelivered part refunded, once.
    assert Decimal(p.a.api(p.reseller_key, "balance")["balance"]) == 1000 - 10 + Decimal(5) * remains / 1000
    for panel in (p.a, p.b):
        assert panel.shell(MONEY_CHECK) == {"unbalanced": [], "wrong": []}
