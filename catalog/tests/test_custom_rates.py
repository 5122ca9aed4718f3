"""Per-reseller own prices: `services` lists a reseller's own rate, `add` charges it, and operators
set it on the reseller's page (or the service's) in the admin; everybody else keeps the catalog rate.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.models import CustomRate, Service
from catalog.service_types import ServiceType
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from orders.tests.api_helpers import placed
from smmpanel.tests.admin_helpers import form_data, operator

LINK = "https://instagram.com/target"


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("5"))


@pytest.fixture
def bob(db) -> Account:
    return reseller_with_key("bob", "100")


def client_for(api, account: Account):
    return type(api)(api.url.removesuffix("/api/v2"), account.key)


def listed_rates(api) -> dict[int, str]:
    return {row["service"]: row["rate"] for row in api("services")}


def charge_rows(account: Account) -> list[tuple[int, Decimal]]:
    entries = LedgerEntry.objects.filter(account=account, kind=LedgerKind.CHARGE).order_by("pk")
    return list(entries.values_list("order_id", "amount"))


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


# -- the API -----------------------------------------------------------------------------------

def test_services_lists_a_resellers_own_rate_and_the_catalog_rate_to_everybody_else(api, reseller, service, bob):
    other = ServiceFactory(rate=Decimal("0.0125"))
    CustomRate.objects.create(account=reseller, service=service, rate=Decimal("4.5"))
    CustomRate.objects.create(account=bob, service=other, rate=Decimal("0.012345"))

    assert listed_rates(api) == {service.pk: "4.5000", other.pk: "0.0125"}
    assert listed_rates(client_for(api, bob)) == {service.pk: "5.0000", other.pk: "0.012345"}


def test_add_charges_the_own_rate(api, reseller, service, bob):
    CustomRate.objects.create(account=reseller, service=service, rate=Decimal("4.5"))

    order = placed(api, service=service.pk, link=LINK, quantity="1000")
    bobs = placed(client_for(api, bob), service=service.pk, link=LINK, quantity="1000")

    assert order.charge == Decimal("4.5") and bobs.charge == Decimal("5")
    assert charge_rows(reseller) == [(order.pk, Decimal("-4.5"))]
    assert charge_rows(bob) == [(bobs.pk, Decimal("-5"))]
    assert balance(reseller) == Decimal("95.5") and balance(bob) == Decimal("95")
    assert api("status", order=order.pk)["charge"] == "4.50"


def test_a_package_costs_its_own_flat_rate(api, reseller):
    package = ServiceFactory(type=ServiceType.PACKAGE, rate=Decimal("12"), min_quantity=1, max_quantity=1)
    CustomRate.objects.create(account=reseller, service=package, rate=Decimal("9.99"))

    order = placed(api, service=package.pk, link=LINK)

    assert order.charge == Decimal("9.99") and charge_rows(reseller) == [(order.pk, Decimal("-9.99"))]


def test_the_balance_check_uses_the_own_rate(api, reseller, service):
    dear = ServiceFactory(rate=Decimal("1"))
    CustomRate.objects.create(account=reseller, service=dear, rate=Decimal("50"))  # 5000 units: 250 > 100
    assert api("add", service=dear.pk, link=LINK, quantity="5000") == {"error": "Insufficient balance"}
    assert not Order.objects.exists() and balance(reseller) == Decimal("100")
    CustomRate.objects.filter(account=reseller, service=dear).update(rate=Decimal("0"))
    free = placed(api, service=dear.pk, link=LINK, quantity="5000")
    assert free.charge == 0 and balance(reseller) == Decimal("100")


# -- the admin ---------------------------------------------------------------------------------

def account_url(account: Account) -> str:
    return reverse("admin:accounts_account_change", args=[account.pk])


def add_own_price(client, account: Account, service: Service, rate: str):
    """Submit the reseller's page as shown, with one own price typed into a new inline row."""
    page = client.get(account_url(account))
    assert page.status_code == 200
    data = form_data(page.content.decode(), form_id="account_form")
    row = int(data["custom_rates-TOTAL_FORMS"][0])
    data["custom_rates-TOTAL_FORMS"] = [str(row + 1)]
    data[f"custom_rates-{row}-service"] = [str(service.pk)]
    data[f"custom_rates-{row}-rate"] = [rate]
    data[f"custom_rates-{row}-account"] = [str(account.pk)]
    return client.post(account_url(account), data)


@pytest.mark.parametrize("role", ["superuser", "Finance"])
def test_an_operator_gives_a_reseller_its_own_price_on_its_page(client, api, reseller, service, bob, role):
    user = operator("root", superuser=True) if role == "superuser" else operator("fran", "Finance")
    client.force_login(user)

    response = add_own_price(client, reseller, service, "4.5")

    assert response.status_code == 302, response.context and [
        formset.errors for formset in response.context["inline_admin_formsets"]
    ]
    assert list(CustomRate.objects.values_list("account_id", "service_id", "rate")) == [
        (reseller.pk, service.pk, Decimal("4.5")),
    ]
    assert listed_rates(api) == {service.pk: "4.5000"}
    assert listed_rates(client_for(api, bob)) == {service.pk: "5.0000"}
    assert Account.objects.get(pk=reseller.pk).is_active  # the page saved nothing else
    assert "4.5" in client.get(account_url(reseller)).content.decode()

    # A second own price for the same service is refused by the form, not by a crash.
    again = add_own_price(client, reseller, service, "3")
    assert again.status_code == 200
    assert CustomRate.objects.get().rate == Decimal("4.5")


def test_a_negative_own_price_is_refused_by_the_form(client, reseller, service):
    client.force_login(operator("root", superuser=True))
    assert add_own_price(client, reseller, service, "-1").status_code == 200
    assert not CustomRate.objects.exists()


def test_support_sees_own_prices_but_cannot_set_one(client, api, reseller, service):
    other = ServiceFactory(rate=Decimal("2"))
    CustomRate.objects.create(account=reseller, service=other, rate=Decimal("1.75"))
    client.force_login(operator("root", superuser=True))
    shown = form_data(client.get(account_url(reseller)).content.decode(), form_id="account_form")
    client.logout()
    client.force_login(operator("sam", "Support"))
    page = client.get(account_url(reseller))
    assert page.status_code == 200
    inline = next(formset for formset in page.context["inline_admin_formsets"] if formset.opts.model is CustomRate)
    assert list(inline.formset.queryset.values_list("service_id", "rate")) == [(other.pk, Decimal("1.75"))]
    assert not inline.has_add_permission and not inline.has_change_permission

    data = {**shown, "custom_rates-TOTAL_FORMS": ["2"], "custom_rates-1-service": [str(service.pk)],
            "custom_rates-1-rate": ["0.01"], "custom_rates-0-rate": ["0.01"]}
    assert client.post(account_url(reseller), data).status_code == 403

    assert list(CustomRate.objects.values_list("service_id", "rate")) == [(other.pk, Decimal("1.75"))]
    assert listed_rates(api) == {service.pk: "5.0000", other.pk: "1.7500"}


def test_own_prices_are_set_on_a_services_page_too(client, api, reseller, service):
    client.force_login(operator("root", superuser=True))
    url = reverse("admin:catalog_service_change", args=[service.pk])
    data = form_data(client.get(url).content.decode(), form_id="service_form")
    data.update({"custom_rates-TOTAL_FORMS": ["1"], "custom_rates-0-account": [str(reseller.pk)],
                 "custom_rates-0-rate": ["4.25"]})

    response = client.post(url, data)

    assert response.status_code == 302, response.context and [
        formset.errors for formset in response.context["inline_admin_formsets"]
    ]
    assert listed_rates(api) == {service.pk: "4.2500"}
    assert Service.objects.get(pk=service.pk).rate == Decimal("5")  # the catalog rate stays


@pytest.mark.parametrize("role", ["Support", "Finance"])
def test_operators_see_who_has_an_own_price_on_a_services_page(client, reseller, service, role):
    CustomRate.objects.create(account=reseller, service=service, rate=Decimal("4.5"))
    client.force_login(operator("op", role))

    page = client.get(reverse("admin:catalog_service_change", args=[service.pk]))

    assert page.status_code == 200
    inline = next(formset for formset in page.context["inline_admin_formsets"] if formset.opts.model is CustomRate)
    assert list(inline.formset.queryset.values_list("account_id", "rate")) == [(reseller.pk, Decimal("4.5"))]
