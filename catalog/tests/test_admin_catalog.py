"""The catalog's admin: every rate change, in the list, in bulk or on the page, leaves a price
history row with its operator; Support and Finance change no price.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import PriceChange, Service
from catalog.tests.factories import CategoryFactory, ServiceFactory
from smmpanel.tests.admin_helpers import form_data, messages_of, operator, run_action

pytestmark = pytest.mark.django_db

SERVICES = reverse("admin:catalog_service_changelist")


@pytest.fixture
def root(db):
    return operator("root", superuser=True)


@pytest.fixture
def services(db) -> list[Service]:
    return [ServiceFactory(rate=Decimal(rate)) for rate in ("5", "0.0125", "0", "12.5")]


def rates() -> dict[int, Decimal]:
    return dict(Service.objects.values_list("pk", "rate"))


def history() -> list[tuple]:
    return list(PriceChange.objects.order_by("pk").values_list("service_id", "old_rate", "new_rate", "changed_by",
                                                               "note"))


def edit_in_list(client, changes: dict[int, dict[str, str]]):
    """Submit the changelist's editable columns as shown, with `changes` typed into some rows."""
    data = form_data(client.get(SERVICES).content.decode(), form_id="changelist-form")
    rows = int(data["form-TOTAL_FORMS"][0])
    for row in range(rows):
        pk = int(data[f"form-{row}-id"][0])
        for field, value in changes.get(pk, {}).items():
            data[f"form-{row}-{field}"] = [value]
    data["_save"] = ["Save"]
    data.pop("action", None)
    return client.post(SERVICES, data)


def test_a_rate_edited_in_the_list_leaves_a_price_change_with_the_operator(client, root, services):
    client.force_login(root)
    dear, cheap = services[0], services[1]

    response = edit_in_list(client, {dear.pk: {"rate": "6.25"}, cheap.pk: {"max_quantity": "9000"}})

    assert response.status_code == 302
    assert rates()[dear.pk] == Decimal("6.25")
    assert Service.objects.get(pk=cheap.pk).max_quantity == 9000
    assert history() == [(dear.pk, Decimal("5"), Decimal("6.25"), root.pk, "edited in admin")]


def test_a_rate_edited_on_the_services_page_leaves_a_price_change(client, root, services):
    client.force_login(root)
    url = reverse("admin:catalog_service_change", args=[services[3].pk])
    data = form_data(client.get(url).content.decode(), form_id="service_form")
    data["rate"] = ["11"]

    assert client.post(url, data).status_code == 302

    assert history() == [(services[3].pk, Decimal("12.5"), Decimal("11"), root.pk, "edited in admin")]
    page = client.get(url).content.decode()
    assert "price history" in page.lower() and "12.500000" in page and "11.000000" in page


def test_reprice_asks_the_percentage_then_changes_each_rate_with_history(client, root, services):
    client.force_login(root)
    selected = [service.pk for service in services]
    before = rates()

    form_page = client.post(SERVICES, {"action": "reprice", "_selected_action": selected, "index": "0"})

    assert form_page.status_code == 200 and "percent" in form_page.context["form"].fields
    assert rates() == before

    refused = client.post(SERVICES, {"action": "reprice", "_selected_action": selected, "apply": "Apply",
                                     "percent": "-100"})
    assert refused.status_code == 200 and refused.context["form"].errors["percent"]
    assert rates() == before and history() == []

    shown = run_action(client, SERVICES, "reprice", selected, apply="Apply", percent="10")

    assert shown == ["Changed the rate of 3 service(s)."]  # a zero rate stays zero
    assert rates() == {
        services[0].pk: Decimal("5.5"), services[1].pk: Decimal("0.01375"), services[2].pk: Decimal("0"),
        services[3].pk: Decimal("13.75"),
    }
    assert sorted(history()) == sorted([
        (services[0].pk, Decimal("5"), Decimal("5.5"), root.pk, "+10 %"),
        (services[1].pk, Decimal("0.0125"), Decimal("0.01375"), root.pk, "+10 %"),
        (services[3].pk, Decimal("12.5"), Decimal("13.75"), root.pk, "+10 %"),
    ])


def test_reprice_of_all_1200_services_across_pages_through_the_form(client, root):
    """"Select all" on a big catalog: the form must not post one field per service (Django refuses
    more than DATA_UPLOAD_MAX_NUMBER_FIELDS with a 400).
    """
    category = CategoryFactory()
    Service.objects.bulk_create(
        Service(category=category, name=f"Followers {n}", rate=Decimal("2")) for n in range(1200)
    )
    client.force_login(root)
    first = Service.objects.order_by("pk").first()
    form_page = client.post(SERVICES, {"action": "reprice", "_selected_action": [first.pk], "select_across": "1",
                                       "index": "0"})
    assert "1200 selected" in form_page.content.decode()
    data = form_data(form_page.content.decode())
    data.update(percent=["-5"], apply=["Apply"])

    response = client.post(SERVICES, data, follow=True)

    assert messages_of(response) == ["Changed the rate of 1200 service(s)."]
    assert set(rates().values()) == {Decimal("1.9")}
    assert PriceChange.objects.filter(changed_by=root, note="-5 %").count() == 1200


def test_enable_and_disable_report_what_changed(client, root, services):
    client.force_login(root)
    selected = [service.pk for service in services[:2]]

    assert run_action(client, SERVICES, "disable", selected) == ["Disabled 2 service(s)."]
    assert run_action(client, SERVICES, "disable", selected) == ["Disabled 0 service(s)."]
    assert not Service.objects.filter(pk__in=selected, is_active=True).exists()
    assert run_action(client, SERVICES, "enable", [service.pk for service in services]) == ["Enabled 2 service(s)."]
    assert Service.objects.filter(is_active=True).count() == 4


@pytest.mark.parametrize("role", ["Support", "Finance"])
def test_support_and_finance_change_no_price(client, services, role):
    client.force_login(operator("sam", role))
    dear = services[0]
    before = rates()

    page = client.get(SERVICES)
    assert page.status_code == 200
    assert page.context["cl"].formset is None and page.context["action_form"] is None
    assert client.post(SERVICES, {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(dear.pk),
                           "form-0-rate": "0.01", "form-0-min_quantity": "100", "form-0-max_quantity": "5000",
                           "form-0-is_active": "on", "_save": "Save"}).status_code == 403
    client.post(SERVICES, {"action": "reprice", "_selected_action": [dear.pk], "apply": "Apply", "percent": "-90"})
    change = reverse("admin:catalog_service_change", args=[dear.pk])
    assert client.post(change, {"rate": "0.01"}).status_code == 403
    assert client.get(reverse("admin:catalog_service_add")).status_code == 403

    assert rates() == before and history() == []
