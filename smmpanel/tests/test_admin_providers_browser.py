"""An operator adds a provider and imports its services in a real headless Chromium. The provider
is this panel's own API on the live server (a reseller's key), so every call is real HTTP.

A screenshot of the import page goes to $SCREENSHOT_DIR (default var/screenshots/).
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from providers.models import Provider
from smmpanel.tests.admin_helpers import operator
from smmpanel.tests.test_admin_browser import log_in, messages, submit

pytestmark = pytest.mark.browser


def test_operator_adds_a_provider_tests_it_and_imports_two_services(page, live_server, reseller, screenshots, settings):
    settings.PANEL_CURRENCY = "TRY"
    upstream = [ServiceFactory(name=f"Upstream {n}", rate=Decimal("2.5")) for n in range(3)]
    operator("root", superuser=True)
    log_in(page, "root")

    page.goto("/admin/providers/provider/add/")
    page.fill("#id_name", "Mirror")
    page.fill("#id_api_url", f"{live_server.url}/api/v2")
    page.fill("#id_new_api_key", reseller.key)
    page.fill("#id_default_markup_percent", "20")
    submit(page, "input[name=_continue]")
    provider = Provider.objects.get(name="Mirror")
    assert provider.api_key == reseller.key
    assert reseller.key not in page.content() and provider.masked_key in page.content()

    submit(page, "#test-connection")
    assert messages(page) == ["Mirror: connected: key accepted, balance 100.00 TRY, 3 services listed."]

    submit(page, "#import-services")
    page.screenshot(path=str(screenshots / "admin-provider-import.png"), full_page=True)
    assert "3.0000" in page.content()  # 2.5 × 1.2, our price at the default markup
    page.check(f"input[name=upstream_id][value='{upstream[0].pk}']")
    page.check(f"input[name=upstream_id][value='{upstream[2].pk}']")
    submit(page, "text=Import the ticked services")

    assert messages(page) == ["Mirror: imported 2 new service(s), updated 0, skipped 0."]
    imported = Service.objects.filter(provider=provider).order_by("provider_service_id")
    assert [(s.provider_service_id, s.name, s.rate) for s in imported] == [
        (str(upstream[0].pk), "Upstream 0", Decimal("3")), (str(upstream[2].pk), "Upstream 2", Decimal("3"))]
    assert page.locator("#result_list tbody tr").count() == 2  # the services list, filtered by the provider
