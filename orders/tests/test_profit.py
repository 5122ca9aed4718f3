"""Profit: an order's cost (the provider's charge, in panel money) against its revenue (charge
minus refund) in the orders admin and on the dashboard; and the alerts operators get about held
orders and failing providers."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.dashboard import dashboard_profit
from orders.models import HoldReason, Order, OrderStatus
from orders.services import order_cancel, order_place, order_transition
from providers.tests.factories import ProviderFactory
from smmpanel.tests.admin_helpers import operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    """A reseller and a provider-backed service at 10 per 1000 (1000 units cost 10.00)."""
    provider = ProviderFactory(name="Upstream")
    service = ServiceFactory(rate=Decimal("10"), provider=provider, provider_service_id="7", max_quantity=100000)
    simulated = ServiceFactory(rate=Decimal("4"))
    return reseller_with_key("buyer", Decimal("1000")), service, simulated


def place(account, service, link: str, quantity: int = 1000) -> Order:
    return order_place(account=account, actor="test",
                       fields={"service": service.pk, "link": f"https://instagram.com/{link}", "quantity": quantity})


def partial(order: Order, remains: int) -> None:
    for status, changes in ((OrderStatus.PROCESSING, {}), (OrderStatus.IN_PROGRESS, {"remains": remains}),
                            (OrderStatus.PARTIAL, {})):
        order_transition(order_id=order.pk, new_status=status, reason="test", actor="worker", **changes)


@pytest.fixture
def orders(shop):
    """Four orders: completed-ish at cost 7.5, partial (60 % undelivered) at cost 3, canceled
    before forwarding, not forwarded yet; and a simulated one."""
    account, service, simulated = shop
    full, half, canceled, waiting = (place(account, service, name) for name in ("full", "half", "gone", "wait"))
    Order.objects.filter(pk=full.pk).update(cost=Decimal("7.5"))
    Order.objects.filter(pk=half.pk).update(cost=Decimal("3"))
    partial(half, remains=600)  # refunds 6.00
    order_cancel(account=account, order_id=canceled.pk, actor="test")  # refunds 10.00
    sim = place(account, simulated, "sim", quantity=500)  # 2.00, costs nothing
    return {"full": full, "half": half, "canceled": canceled, "waiting": waiting, "sim": sim}


def test_the_orders_list_shows_revenue_cost_and_margin(client, orders):
    client.force_login(operator("root", superuser=True))
    response = client.get(reverse("admin:orders_order_changelist"))
    rows = {order.pk: order for order in response.context["cl"].result_list}
    admin = response.context["cl"].model_admin

    def shown(name):
        order = rows[orders[name].pk]
        return admin.revenue_display(order), admin.cost_display(order), admin.margin_display(order)

    assert shown("full") == ("10.00", "7.50", "2.50")
    assert shown("half") == ("4.00", "3.00", "1.00")
    assert shown("canceled") == ("0.00", "—", "—")
    assert shown("waiting") == ("10.00", "—", "—")
    assert shown("sim") == ("2.00", "0.00", "2.00")

    page = client.get(reverse("admin:orders_order_change", args=[orders["half"].pk])).content.decode()
    assert "Revenue" in page and "4.00" in page and "Margin" in page and "1.00" in page

    ordered = client.get(reverse("admin:orders_order_changelist"), {"o": "-11"})  # by margin, descending
    assert ordered.status_code == 200


def test_the_dashboard_counts_profit_per_order_placed(orders):
    today, week, month = dashboard_profit(now=timezone.now())
    # Revenue 10 + 4 + 0 + 10 + 2; cost 7.5 + 3; one provider order without a cost (not canceled).
    assert (today.label, today.orders, today.revenue, today.cost, today.margin, today.uncosted) == (
        "Today", 5, Decimal("26.00000"), Decimal("10.50000"), Decimal("15.50000"), 1)
    assert week == week.__class__(**{**today.__dict__, "label": "7 days"})
    assert month.margin == Decimal("15.50000")


def test_the_dashboard_shows_profit_and_alerts(client, orders):
    client.force_login(operator("root", superuser=True))
    Order.objects.filter(pk=orders["waiting"].pk).update(hold_reason=HoldReason.PROVIDER_OUT_OF_FUNDS)
    Order.objects.filter(pk=orders["full"].pk).update(hold_reason=HoldReason.NEEDS_CHECKING)
    ProviderFactory(name="Broken", consecutive_failures=4, last_error="Broken: `status`: not connected")

    page = client.get(reverse("admin:index")).content.decode()

    assert "Profit of the orders placed" in page and "15.50" in page and "10.50" in page and "59.6 %" in page
    assert "Provider out of funds: 1 order on hold. Top up our balance at the provider" in page
    assert "?hold_reason__exact=provider_out_of_funds" in page
    assert "Needs checking: 1 order on hold." in page and "?hold_reason__exact=needs_checking" in page
    assert "Provider Broken failed its last 4 calls: Broken: `status`: not connected" in page
    assert "1 provider order of 30 days have no cost yet" in page


def test_no_alerts_when_nothing_waits(client, shop):
    client.force_login(operator("root", superuser=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert "panel-dash-alerts" not in page and "Profit of the orders placed" in page


def test_the_orders_list_with_costs_and_refunds_runs_fixed_queries(client, shop, django_assert_max_num_queries):
    account, service, _ = shop
    client.force_login(operator("root", superuser=True))

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            order = place(account, service, f"n{n}", quantity=100)
            Order.objects.filter(pk=order.pk).update(cost=Decimal("0.5"))
            if n % 2:
                order_cancel(account=account, order_id=order.pk, actor="test")

    add(5, 0)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("admin:orders_order_changelist"))
    add(60, 5)
    with django_assert_max_num_queries(len(few)):
        response = client.get(reverse("admin:orders_order_changelist"))
    assert len(response.context["cl"].result_list) == 65
