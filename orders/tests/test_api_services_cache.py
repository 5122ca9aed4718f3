"""The `services` answer comes from the cache (orders/api/services_answer.py), byte for byte what
DRF rendered before, and every way the catalog or a custom rate can change is seen at the next
call: operators' admin pages and actions, commands, and SQL that no Django code runs.
Through real requests: the admin's forms and the API's form bodies, with Django's test client.
"""
from __future__ import annotations

import io
import json
import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from accounts.tests.factories import reseller_with_key
from catalog.models import Category, CustomRate, Service
from catalog.selectors import services_for_sale
from catalog.tests.factories import CategoryFactory, ServiceFactory
from orders.api import services_answer
from orders.api.formatting import service_payload
from smmpanel.tests.admin_helpers import form_data, operator, run_action

pytestmark = pytest.mark.django_db
SERVICES = reverse("admin:catalog_service_changelist")


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db):
    return reseller_with_key("alice", Decimal("100"))


@pytest.fixture
def catalog(db) -> list[Service]:
    category = CategoryFactory(name="Instagram")
    return [ServiceFactory(category=category, name=f"Followers {n}", rate=Decimal("5")) for n in range(3)]


@pytest.fixture
def root(client, db):
    user = operator("root", superuser=True)
    client.force_login(user)
    return user


def services(client, reseller) -> tuple[bytes, list[str]]:
    """The raw `services` answer and the SQL it ran."""
    body = urlencode({"key": reseller.key, "action": "services"})
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v2", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.content, [q["sql"] for q in captured.captured_queries]


def as_rendered_before(own: dict[int, Decimal] | None = None) -> bytes:
    """What the view answered before the cache: the payload rendered by DRF's JSONRenderer."""
    own = own or {}
    return JSONRenderer().render([service_payload(s, own.get(s.pk)) for s in services_for_sale()])


def from_cache(statements: list[str]) -> bool:
    return not [sql for sql in statements if "catalog_service" in sql]


def primed(client, reseller) -> bytes:
    """Call twice: the second answer comes from the cache."""
    services(client, reseller)
    content, statements = services(client, reseller)
    assert from_cache(statements)
    return content


def rates(content: bytes) -> dict[int, str]:
    return {entry["service"]: entry["rate"] for entry in json.loads(content)}


def test_the_cached_answer_is_byte_for_byte_the_rendered_one(client, alice, catalog):
    first, statements = services(client, alice)
    assert not from_cache(statements)
    second, statements = services(client, alice)
    assert from_cache(statements)
    assert first == second == as_rendered_before()


def test_the_cached_answer_carries_the_headers_of_every_other_answer(client, alice, catalog):
    def headers(action: str) -> dict[str, str]:
        body = urlencode({"key": alice.key, "action": action})
        response = client.post("/api/v2", body, content_type="application/x-www-form-urlencoded")
        return {name: value for name, value in response.headers.items() if name not in {"X-Request-ID", "Content-Length"}}

    primed(client, alice)
    assert headers("services") == headers("balance")  # rendered by DRF
    assert headers("services")["Content-Type"] == "application/json"


def test_own_rates_are_patched_into_the_shared_answer(client, alice, catalog):
    bob = reseller_with_key("bob", Decimal("100"))
    CustomRate.objects.create(account=alice, service=catalog[1], rate=Decimal("0.0125"))
    primed(client, bob)

    content, statements = services(client, alice)

    assert from_cache(statements)
    assert content == as_rendered_before({catalog[1].pk: Decimal("0.0125")})
    assert rates(content)[catalog[1].pk] == "0.0125"
    assert services(client, bob)[0] == as_rendered_before()


def test_a_rate_edited_on_the_services_admin_page(client, root, alice, catalog):
    primed(client, alice)
    url = reverse("admin:catalog_service_change", args=[catalog[0].pk])
    data = form_data(client.get(url).content.decode(), form_id="service_form")
    data["rate"] = ["7.5"]
    assert client.post(url, data).status_code == 302

    content, _ = services(client, alice)
    assert rates(content)[catalog[0].pk] == "7.5000"
    assert content == as_rendered_before()


def test_a_bulk_price_change_in_the_admin(client, root, alice, catalog):
    primed(client, alice)
    shown = run_action(client, SERVICES, "reprice", [s.pk for s in catalog], apply="Apply", percent="10")
    assert shown == ["Changed the rate of 3 service(s)."]

    content, _ = services(client, alice)
    assert set(rates(content).values()) == {"5.5000"}


def test_a_service_disabled_in_the_admin(client, root, alice, catalog):
    primed(client, alice)
    assert run_action(client, SERVICES, "disable", [catalog[2].pk]) == ["Disabled 1 service(s)."]

    content, _ = services(client, alice)
    assert set(rates(content)) == {catalog[0].pk, catalog[1].pk}


def test_a_category_renamed_in_the_admin(client, root, alice, catalog):
    primed(client, alice)
    category = catalog[0].category
    url = reverse("admin:catalog_category_change", args=[category.pk])
    data = form_data(client.get(url).content.decode(), form_id="category_form")
    data["name"] = ["Instagram (new)"]
    assert client.post(url, data).status_code == 302

    content, _ = services(client, alice)
    assert b'"category":"Instagram (new)"' in content and b'"category":"Instagram"' not in content


def test_a_custom_rate_set_on_the_services_admin_page(client, root, alice, catalog):
    primed(client, alice)
    url = reverse("admin:catalog_service_change", args=[catalog[0].pk])
    data = form_data(client.get(url).content.decode(), form_id="service_form")
    data.update({"custom_rates-TOTAL_FORMS": ["1"], "custom_rates-0-account": [str(alice.pk)],
                 "custom_rates-0-rate": ["4.25"]})
    assert client.post(url, data).status_code == 302

    assert rates(services(client, alice)[0])[catalog[0].pk] == "4.2500"
    CustomRate.objects.filter(account=alice).update(rate=Decimal("3"))  # queryset.update(): no signal
    assert rates(services(client, alice)[0])[catalog[0].pk] == "3.0000"
    CustomRate.objects.filter(account=alice).delete()
    assert rates(services(client, alice)[0])[catalog[0].pk] == "5.0000"


def test_a_management_command(client, alice):
    assert primed(client, alice) == b"[]"
    call_command("seed_demo", stdout=io.StringIO())  # the demo catalog, in an empty one
    content, _ = services(client, alice)
    assert len(rates(content)) == Service.objects.filter(is_active=True).count() > 0
    assert content == as_rendered_before()


def test_plain_sql(client, alice, catalog):
    primed(client, alice)
    with connection.cursor() as cursor:  # as an operator at a psql prompt would
        cursor.execute("UPDATE catalog_service SET name = 'Renamed by hand' WHERE id = %s", [catalog[0].pk])
    content, _ = services(client, alice)
    assert b'"name":"Renamed by hand"' in content
    assert content == as_rendered_before()


def test_an_answer_built_while_the_catalog_changed_is_not_stored(client, alice, catalog, monkeypatch):
    render = services_answer.render_services

    def render_then_rename():
        content = render()
        Category.objects.update(name="Changed meanwhile")  # a write committed while this call built
        return content

    monkeypatch.setattr(services_answer, "render_services", render_then_rename)
    services(client, alice)
    monkeypatch.setattr(services_answer, "render_services", render)

    content, statements = services(client, alice)
    assert not from_cache(statements)  # nothing was stored under either version
    assert b"Changed meanwhile" in content


def test_without_a_cache_the_answer_comes_from_the_database(client, alice, catalog, settings, caplog, monkeypatch):
    services_answer._cache_warning.reset()
    # Nothing listens on port 1: every cache call fails at once (the rate limiter fails open too).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    with caplog.at_level(logging.WARNING, logger="smmpanel.api.services"):
        first, _ = services(client, alice)
        Service.objects.filter(pk=catalog[0].pk).update(rate=Decimal("9"))
        second, _ = services(client, alice)

    assert first != second and second == as_rendered_before()
    warnings = [r for r in caplog.records if r.name == "smmpanel.api.services"]
    assert len(warnings) == 1 and "answering from the database" in warnings[0].getMessage()
