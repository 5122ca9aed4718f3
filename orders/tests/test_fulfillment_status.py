from io import StringIO

import pytest
from django.core.management import call_command

from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import engine
from orders.models import HoldReason, Order
from orders.services import order_place


def run() -> tuple[str, int]:
    out, err = StringIO(), StringIO()
    try:
        call_command("fulfillment_status", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return out.getvalue() + err.getvalue(), code


def test_reports_counts_holds_oldest_due_and_a_missing_tick(db):
    account = reseller_with_key("ops")
    service = ServiceFactory()
    orders = [
        order_place(account=account, fields={"service": service.pk, "link": f"u{n}", "quantity": 100}, actor="t")
        for n in range(3)
    ]
    Order.objects.filter(pk=orders[2].pk).update(hold_reason=HoldReason.PARKED)

    output, code = run()
    assert "Pending      3" in output and "parked                 1" in output
    assert f"Oldest due order: #{orders[0].pk} (Pending)" in output
    assert "Last tick: never" in output and code == 1

    engine.tick()
    output, code = run()
    assert "Last tick: 0 s ago" in output and code == 0


@pytest.mark.django_db
def test_an_idle_panel_is_healthy():
    output, code = run()
    assert "Oldest due order: none" in output and code == 0
