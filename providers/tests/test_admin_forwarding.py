"""The orders admin's two actions for orders held after an unclear submission: found at the
provider (asks its id), or not placed there (submitted again)."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import HoldReason, Order, OrderStatus
from providers.tests.forwarding_helpers import buyer, place, provider, resold  # noqa: F401
from smmpanel.tests.admin_helpers import messages_of, operator

pytestmark = pytest.mark.postgres
ORDERS = reverse("admin:orders_order_changelist")


@pytest.fixture
def browser() -> Client:
    """Django's test client (providers' conftest names its provider client `client`)."""
    return Client()


def held(buyer, resold, link: str) -> Order:
    """An order whose `add` went out and got no clear answer."""
    order = place(buyer, resold, link=link)
    Order.objects.filter(pk=order.pk).update(
        provider_submitted_at=timezone.now(), hold_reason=HoldReason.NEEDS_CHECKING
    )
    return order


def test_found_at_the_provider_asks_the_id_and_moves_the_order_on(browser, buyer, resold):
    order = held(buyer, resold, "https://instagram.com/found")
    browser.force_login(operator("root", superuser=True))
    form_page = browser.post(ORDERS, {"action": "forward_confirm", "_selected_action": [order.pk], "index": "0"})
    assert form_page.status_code == 200 and "provider_order_id" in form_page.context["form"].fields
    done = browser.post(ORDERS, {"action": "forward_confirm", "_selected_action": [order.pk], "apply": "Apply",
                                "provider_order_id": "5150"}, follow=True)
    assert messages_of(done) == ["Confirmed at the provider: 1 order(s), now Processing 1."]
    order.refresh_from_db()
    assert (order.status, order.provider_order_id, order.hold_reason) == (OrderStatus.PROCESSING, "5150", "")
    assert order.events.last().actor == "operator:root"


def test_not_placed_there_clears_the_hold_and_resend_stays_refused(browser, buyer, resold):
    order = held(buyer, resold, "https://instagram.com/absent")
    browser.force_login(operator("root", superuser=True))
    refused = browser.post(ORDERS, {"action": "resend", "_selected_action": [order.pk], "index": "0"}, follow=True)
    assert "may have reached its provider" in messages_of(refused)[-1]
    done = browser.post(ORDERS, {"action": "forward_not_placed", "_selected_action": [order.pk], "index": "0"},
                       follow=True)
    assert messages_of(done) == ["Not placed at the provider, to be submitted again: 1 order(s), now Pending 1."]
    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.provider_submitted_at) == (OrderStatus.PENDING, "", None)
