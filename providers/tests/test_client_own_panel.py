"""The client against this panel's own API on a live server: what we answer, we can read — so two
instances of this panel can be each other's provider."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from accounts.models import Account
from catalog.service_types import ServiceType
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus, RefillStatus
from orders.services import order_transition
from providers.client import Balance, CancelAnswer, ProviderClient, UpstreamStatus
from providers.errors import ProviderAuthError, ProviderOutOfFunds, ProviderPermanentError


@pytest.fixture
def own(live_server, reseller) -> ProviderClient:
    return ProviderClient(api_url=f"{live_server.url}/api/v2", api_key=reseller.key, name="own")


def test_every_action_against_our_own_api(own, reseller, live_server):
    service = ServiceFactory(rate=Decimal("5.123456"), refill=True, cancel=True, drop_percent=10, dripfeed=True)
    comments = ServiceFactory(name="Comments", type=ServiceType.CUSTOM_COMMENTS, rate=Decimal("20"),
                              min_quantity=1)

    listed = {s.service_id: s for s in own.services()}
    assert listed[str(service.pk)].rate == Decimal("5.123456")
    assert listed[str(service.pk)].service_type == ServiceType.DEFAULT
    assert (listed[str(service.pk)].min_quantity, listed[str(service.pk)].max_quantity) == (100, 5000)
    assert listed[str(service.pk)].refill and listed[str(service.pk)].dripfeed
    assert listed[str(comments.pk)].service_type == ServiceType.CUSTOM_COMMENTS

    first = own.add(service_id=service.pk, link="https://instagram.com/first", quantity=1000)
    dripped = own.add(service_id=service.pk, link="https://instagram.com/drip", quantity=200, runs=3, interval=10)
    commented = own.add(service_id=comments.pk, link="https://instagram.com/p/1", comments="Nice\nGreat")
    orders = Order.objects.in_bulk([int(first), int(dripped), int(commented)])
    assert orders[int(dripped)].quantity == 600 and orders[int(dripped)].runs == 3
    assert orders[int(commented)].extra == {"comments": "Nice\nGreat"}

    assert own.status(first) == UpstreamStatus(
        status=OrderStatus.PENDING, raw_status="Pending", charge=Decimal("5.12346"), start_count=0, remains=1000,
        currency=settings.PANEL_CURRENCY,
    )
    statuses = own.status_many([first, commented, 999999])
    assert statuses[first].status == OrderStatus.PENDING
    assert statuses[commented].charge == Decimal("0.04")
    assert statuses["999999"] == UpstreamStatus(status=None, raw_status="", error="Order not found")

    assert own.cancel([first, 999999]) == [
        CancelAnswer(order_id=first, accepted=True),
        CancelAnswer(order_id="999999", accepted=False, error="Order not found"),
    ]
    assert own.status(first).status == OrderStatus.CANCELED

    for new_status, changes in ((OrderStatus.PROCESSING, {}), (OrderStatus.IN_PROGRESS, {"remains": 300}),
                                (OrderStatus.COMPLETED, {})):
        order_transition(order_id=int(dripped), new_status=new_status, reason="test", actor="worker", **changes)
    refill_id = own.refill(dripped)
    assert own.refill_status(refill_id).status == RefillStatus.PENDING

    expected = Account.objects.get(pk=reseller.pk).balance
    assert own.balance() == Balance(amount=expected, currency=settings.PANEL_CURRENCY)


def test_our_errors_sort_as_documented(own, live_server):
    service = ServiceFactory(rate=Decimal("1000"))
    with pytest.raises(ProviderPermanentError, match="Quantity less than minimal 100"):
        own.add(service_id=service.pk, link="https://instagram.com/x", quantity=1)
    with pytest.raises(ProviderPermanentError, match="Invalid link"):
        own.add(service_id=service.pk, link="javascript:alert(1)", quantity=100)
    with pytest.raises(ProviderOutOfFunds):  # 5000 units at 1000 per 1000 is more than the 100 alice has
        own.add(service_id=service.pk, link="https://instagram.com/x", quantity=5000)
    with pytest.raises(ProviderPermanentError, match="Order not found"):
        own.status(424242)
    with pytest.raises(ProviderPermanentError, match="Refill is not available"):
        own.refill(own.add(service_id=service.pk, link="https://instagram.com/y", quantity=100))
    wrong_key = ProviderClient(api_url=f"{live_server.url}/api/v2", api_key="x" * 43, name="own")
    with pytest.raises(ProviderAuthError):
        wrong_key.balance()
