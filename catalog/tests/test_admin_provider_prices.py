"""Provider-backed services in the catalog's admin: a rate an operator sets (on the page, in the
list, in bulk) becomes hand-set, so sync keeps it; a new markup, or a price handed back to sync,
applies at once; enabling or disabling takes a service out of sync's hands."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import PriceChange, Service
from catalog.tests.factories import ServiceFactory
from catalog.tests.test_admin_catalog import SERVICES, edit_in_list
from providers.tests.factories import ProviderFactory
from smmpanel.tests.admin_helpers import form_data, operator, run_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def backed(settings):
    settings.PANEL_CURRENCY = "TRY"
    provider = ProviderFactory(currency="USD", exchange_rate=Decimal("30"), default_markup_percent=Decimal("20"))
    # 0.5 USD × 30 × 1.2 = 18
    return [ServiceFactory(provider=provider, provider_service_id=str(n), provider_rate=Decimal("0.5"),
                           rate=Decimal("18")) for n in range(3)]


@pytest.fixture
def root(client):
    client.force_login(operator("root", superuser=True))


def page_post(client, service: Service, **changes: str):
    url = reverse("admin:catalog_service_change", args=[service.pk])
    data = form_data(client.get(url).content.decode(), form_id="service_form")
    data.update({field: [value] for field, value in changes.items()})
    if changes.get("rate_is_manual") == "":
        data.pop("rate_is_manual")
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return Service.objects.get(pk=service.pk)


def test_rates_set_by_operators_become_hand_set(client, root, backed):
    first, second, third = backed
    assert page_post(client, first, rate="25").rate_is_manual
    assert edit_in_list(client, {second.pk: {"rate": "19"}}).status_code == 302
    run_action(client, SERVICES, "reprice", [third.pk], percent="10", apply="Apply")
    assert [s.rate_is_manual for s in Service.objects.order_by("pk")] == [True, True, True]
    assert Service.objects.get(pk=third.pk).rate == Decimal("19.8")


def test_a_new_markup_or_handing_the_price_back_applies_at_once(client, root, backed):
    first = page_post(client, backed[0], markup_percent="50")
    assert (first.rate, first.rate_is_manual) == (Decimal("22.5"), False)  # 0.5 × 30 × 1.5
    assert PriceChange.objects.get(service=first).note == "edited in admin"

    first = page_post(client, first, rate="30")
    assert first.rate_is_manual
    first = page_post(client, first, rate_is_manual="")
    assert (first.rate, first.rate_is_manual) == (Decimal("22.5"), False)
    page = client.get(reverse("admin:catalog_service_change", args=[first.pk])).content.decode()
    assert "Upstream provider" in page and "0.500000" in page
    assert "changes from the provider" in page.lower() and "18.0000 → 22.5000 (edited in admin)" in page


def test_operators_enabling_or_disabling_clear_the_sync_pause(client, root, backed):
    Service.objects.filter(pk=backed[0].pk).update(is_active=False, paused_by_sync=True)
    service = page_post(client, backed[0], is_active="on")
    assert service.is_active and not service.paused_by_sync
