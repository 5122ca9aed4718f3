"""The providers' admin through Django's test web, the provider a stub panel on real HTTP:
adding and editing (the key never shown again), Test connection, Check balance, Sync, the Import
page, the sync log, and list query counts."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Service
from providers.catalog_import import provider_services_import
from providers.models import Provider, ServiceSyncChange
from providers.services import provider_create
from providers.tests.catalogs import CATALOG, usd_provider
from smmpanel.tests.admin_helpers import form_data, messages_of, operator, run_action

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("try_panel")]
KEY = "admin-entered-secret-0123456789"


@pytest.fixture
def try_panel(settings):
    settings.PANEL_CURRENCY = "TRY"


@pytest.fixture
def web():
    """Django's test client (`client` is the provider client in this folder)."""
    return Client()


@pytest.fixture
def root(web):
    user = operator("root", superuser=True)
    web.force_login(user)
    return user


def change_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_change", args=[provider.pk])


def test_add_and_edit_a_provider_without_ever_showing_the_key(web, root, panel):
    add = reverse("admin:providers_provider_add")
    data = {**form_data(web.get(add).content.decode(), form_id="provider_form"),
            "name": ["Upstream"], "api_url": [panel.url], "new_api_key": [KEY], "currency": ["USD"],
            "exchange_rate": ["34.5"], "default_markup_percent": ["20"], "on_permanent_error": ["hold"]}
    response = web.post(add, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = Provider.objects.get()
    assert (provider.api_key, provider.currency, provider.exchange_rate) == (KEY, "USD", Decimal("34.5"))

    page = web.get(change_url(provider)).content.decode()
    assert KEY not in page and f"••••{KEY[-4:]}" in page and 'type="password"' in page
    listing = web.get(reverse("admin:providers_provider_changelist")).content.decode()
    assert KEY not in listing and f"••••{KEY[-4:]}" in listing

    data = form_data(page, form_id="provider_form")
    assert data["new_api_key"] == [""]
    data["default_markup_percent"] = ["30"]
    assert web.post(change_url(provider), data).status_code == 302
    provider.refresh_from_db()
    assert (provider.api_key, provider.default_markup_percent) == (KEY, Decimal("30"))  # blank kept the key

    data["new_api_key"] = ["a-brand-new-key-0123456789"]
    assert web.post(change_url(provider), data).status_code == 302
    assert Provider.objects.get().api_key == "a-brand-new-key-0123456789"


def test_the_form_refuses_what_the_service_refuses(web, root, panel):
    add = reverse("admin:providers_provider_add")
    data = {**form_data(web.get(add).content.decode(), form_id="provider_form"),
            "name": ["Upstream"], "api_url": [panel.url], "new_api_key": ["two words"], "currency": ["TRY"]}
    response = web.post(add, data)
    assert response.status_code == 200 and "The API key must be one word" in response.content.decode()
    data.update({"new_api_key": [KEY], "exchange_rate": ["2"]})
    assert "the panel&#x27;s currency, has the exchange rate 1" in web.post(add, data).content.decode()
    assert not Provider.objects.exists()


def test_test_connection_and_check_balance_buttons(web, root, panel):
    provider = usd_provider(panel)
    panel.reply("balance", {"balance": "12.5", "currency": "USD"})
    panel.reply("services", CATALOG)

    response = web.post(reverse("admin:providers_provider_test", args=[provider.pk]), follow=True)
    assert messages_of(response) == ["Dollars: connected: key accepted, balance 12.50 USD, 6 services listed."]
    response = web.post(reverse("admin:providers_provider_balance", args=[provider.pk]), follow=True)
    assert messages_of(response) == ["Dollars: balance 12.50 USD (≈ 426.54321 TRY)."]  # 12.5 × 34.12345678
    provider.refresh_from_db()
    assert provider.balance == Decimal("12.5") and provider.last_ok_at is not None

    panel.reply("balance", {"error": "Invalid API key"})
    response = web.post(reverse("admin:providers_provider_test", args=[provider.pk]), follow=True)
    assert messages_of(response) == ["Dollars: `balance`: key or account refused: Invalid API key"]
    page = web.get(reverse("admin:providers_provider_changelist")).content.decode()
    assert "failing ×1" in page and "12.50 USD" in page
    assert web.get(reverse("admin:providers_provider_test", args=[provider.pk])).status_code == 403


def test_list_actions_call_each_provider(web, root, panel):
    first, second = usd_provider(panel), usd_provider(panel, name="Other")
    panel.reply("balance", {"balance": 3, "currency": "USD"})
    shown = run_action(web, reverse("admin:providers_provider_changelist"), "check_balance", [first.pk, second.pk])
    assert shown == ["Dollars: balance 3.00 USD (≈ 102.37037 TRY).", "Other: balance 3.00 USD (≈ 102.37037 TRY)."]


def test_the_import_page_lists_the_catalog_and_imports_the_ticked_services(web, root, panel):
    provider = usd_provider(panel)
    panel.reply("services", CATALOG)
    url = reverse("admin:providers_provider_import", args=[provider.pk])

    page = web.get(url).content.decode()
    assert 'value="101"' in page and 'value="105"' not in page  # no box for a type we cannot sell
    assert "cannot import: type &#x27;Subscriptions&#x27; is not offered here" in page
    assert "5.265932" in page  # our rate at the default markup

    response = web.post(url, {"upstream_id": ["101", "103"], "markup": "10"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(f"?provider__id__exact={provider.pk}")
    assert messages_of(response) == ["Dollars: imported 2 new service(s), updated 0, skipped 0."]
    assert sorted(Service.objects.values_list("provider_service_id", "rate")) == [
        ("101", Decimal("4.634020")), ("103", Decimal("0.003754"))]  # 0.123456 × 34.12345678 × 1.1 = 4.63402018…
    assert "imported as #" in web.get(url).content.decode()

    response = web.post(url, {"all": "on"}, follow=True)
    assert messages_of(response)[:2] == ["Dollars: imported 3 new service(s), updated 2, skipped 1.",
                                         "Skipped 105: type 'Subscriptions' is not offered here"]
    response = web.post(url, {"markup": ""}, follow=True)
    assert "Pick the services to import" in messages_of(response)[0]


def test_the_import_page_refuses_a_provider_without_an_exchange_rate(web, root, panel):
    provider = usd_provider(panel, exchange_rate=None)
    response = web.get(reverse("admin:providers_provider_import", args=[provider.pk]), follow=True)
    assert response.redirect_chain[-1][0] == change_url(provider)
    assert "set its exchange rate" in messages_of(response)[0]
    assert panel.calls("services") == []


def test_sync_button_and_the_sync_log(web, root, panel):
    provider = usd_provider(panel)
    panel.reply("services", CATALOG[:2])
    provider_services_import(provider_id=provider.pk)
    panel.reply("services", CATALOG[:1])

    response = web.post(reverse("admin:providers_provider_sync", args=[provider.pk]), follow=True)
    assert messages_of(response) == [
        "Dollars: catalog synced: 1 listed upstream; 0 updated, 0 repriced, 1 paused, 0 un-paused."]
    log = web.get(reverse("admin:providers_servicesyncchange_changelist"), {"provider__id__exact": provider.pk})
    assert "gone from the provider&#x27;s catalog" in log.content.decode()
    assert ServiceSyncChange.objects.count() == 3
    page = web.get(change_url(provider)).content.decode()
    assert "Sync changes" in page and "Import services" in page and "Test connection" in page


def test_support_may_not_call_providers(web, panel):
    provider = usd_provider(panel)
    web.force_login(operator("helper", "Support"))
    assert web.post(reverse("admin:providers_provider_balance", args=[provider.pk])).status_code == 403
    assert web.get(reverse("admin:providers_provider_import", args=[provider.pk])).status_code == 403
    assert panel.requests == []


@pytest.mark.parametrize("rows", [3, 60])
def test_the_provider_list_runs_a_fixed_number_of_queries(web, root, django_assert_max_num_queries, rows):
    for n in range(rows):
        provider = provider_create(name=f"P{n}", api_url="https://p.example/api/v2", api_key=f"key-{n:04d}-abcdefgh")
        Service.objects.create(category_id=_category(), name=f"S{n}", rate=1, provider=provider,
                               provider_service_id="1")
    with django_assert_max_num_queries(6):
        response = web.get(reverse("admin:providers_provider_changelist"))
    assert response.status_code == 200 and len(response.context["cl"].result_list) == rows


def _category() -> int:
    from catalog.models import Category

    return Category.objects.get_or_create(name="C")[0].pk
