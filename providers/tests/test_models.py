"""The provider links in the schema: what the database refuses, what a key shows, and that an
order keeps the provider it was placed with."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from catalog.tests.factories import ServiceFactory
from orders.tests.api_helpers import placed
from providers.tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def test_the_key_is_masked_everywhere_it_could_be_shown():
    provider = ProviderFactory(name="BigPanel", api_key="abcdefghijklmnopqrstuvwxyz0123456789")
    for shown in (str(provider), repr(provider), provider.masked_key):
        assert "abcdefghijklmnop" not in shown and "0123456789" not in shown
    assert provider.masked_key == "••••6789"
    assert ProviderFactory(api_key="short-key").masked_key == "••••"  # too short to show any of it


@override_settings(PANEL_CURRENCY="TRY")
def test_exchange_rate_is_one_in_our_currency_and_unset_in_another():
    assert ProviderFactory(currency="TRY").panel_exchange_rate == Decimal(1)
    usd = ProviderFactory(currency="USD")
    assert usd.panel_exchange_rate is None
    usd.exchange_rate = Decimal("34.12345678")
    usd.save()
    usd.refresh_from_db()
    assert usd.panel_exchange_rate == Decimal("34.12345678")


def test_the_database_refuses_a_non_positive_exchange_rate():
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderFactory(currency="USD", exchange_rate=Decimal(0))


def test_one_local_service_per_upstream_service():
    provider = ProviderFactory()
    ServiceFactory(provider=provider, provider_service_id="17", provider_rate=Decimal("1.234567"))
    ServiceFactory(provider=ProviderFactory(), provider_service_id="17")  # another provider's 17: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(provider=provider, provider_service_id="17")


@pytest.mark.parametrize("fields", [{"provider_service_id": None}, {"provider_service_id": ""}])
def test_a_provider_service_needs_its_upstream_id(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(provider=ProviderFactory(), **fields)


def test_an_upstream_id_needs_a_provider():
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(provider_service_id="17")


def test_an_order_keeps_the_provider_it_was_placed_with(api):
    first, second = ProviderFactory(), ProviderFactory()
    service = ServiceFactory(provider=first, provider_service_id="5")
    simulated = ServiceFactory()
    order = placed(api, service=service.pk, link="https://instagram.com/a", quantity=100)
    assert order.provider_id == first.pk
    assert placed(api, service=simulated.pk, link="https://instagram.com/a", quantity=100).provider_id is None

    service.provider, service.provider_service_id = second, "9"  # the catalog moves on …
    service.save()
    order.refresh_from_db()
    assert order.provider_id == first.pk  # … the order in flight does not


def test_one_local_order_per_upstream_order(api):
    provider = ProviderFactory()
    service = ServiceFactory(provider=provider, provider_service_id="5")
    one = placed(api, service=service.pk, link="https://instagram.com/a", quantity=100)
    two = placed(api, service=service.pk, link="https://instagram.com/b", quantity=100)
    one.provider_order_id = "777"
    one.save(update_fields=["provider_order_id"])
    two.provider_order_id = "777"
    with pytest.raises(IntegrityError), transaction.atomic():
        two.save(update_fields=["provider_order_id"])
