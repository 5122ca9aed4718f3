"""`manage.py provider_add` and `provider_import`, as operators' scripts run them: the last line
is what scripts read (the provider id; the import summary), and the key is never printed."""
from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Service
from providers.models import Provider
from providers.tests.catalogs import CATALOG, entry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("try_panel")]
KEY = "command-secret-key-0123456789"


@pytest.fixture
def try_panel(settings):
    settings.PANEL_CURRENCY = "TRY"


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_provider_add_prints_the_id_last_and_never_the_key(panel):
    lines = run("provider_add", "Upstream", panel.url, KEY, "--markup", "25")
    provider = Provider.objects.get(name="Upstream")
    assert lines == [f"Added provider Upstream (TRY, markup 25 %, key ••••{KEY[-4:]}).", str(provider.pk)]
    assert (provider.api_key, provider.default_markup_percent, provider.exchange_rate) == (KEY, 25, 1)

    lines = run("provider_add", "Dollars", panel.url, KEY, "--currency", "usd")
    assert lines[1:] == ["Set its exchange rate (TRY per 1 USD) in admin before importing.",
                         str(Provider.objects.get(name="Dollars").pk)]
    assert run("provider_add", "Euros", panel.url, KEY, "--currency", "EUR", "--exchange-rate", "37.5")[-1] == str(
        Provider.objects.get(name="Euros").pk)
    assert not any(KEY in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["Upstream", "ftp://x", KEY], "The API URL must be an http(s) URL"),
    (["Upstream", "https://x.example/api", KEY, "--markup", "-100"], "The markup must be above -100 %"),
    (["Upstream", "https://x.example/api", KEY, "--markup", "lots"], "Not a number: 'lots'"),
])
def test_provider_add_refuses(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("provider_add", *args)
    assert not Provider.objects.exists()


def test_provider_import_all_then_named(panel):
    panel.reply("services", CATALOG)
    provider_id = run("provider_add", "Upstream", panel.url, KEY, "--markup", "10")[-1]

    lines = run("provider_import", "Upstream", "101", "105", "404", "--markup", "50")
    first = Service.objects.get(provider_service_id="101")
    assert lines == [
        f"created #{first.pk} from 101: IG Followers [Real] at 0.185184 (provider 0.123456 TRY)",
        "skipped 105: type 'Subscriptions' is not offered here",
        "skipped 404: not in the provider's catalog",
        "created 1, updated 0, skipped 2",
    ]
    assert first.markup_percent == Decimal("50") and str(first.provider_id) == provider_id

    panel.reply("services", [entry(101, "IG Followers [Real]", "0.2", refill=True, description="Start 0-1h"),
                             *CATALOG[1:]])
    lines = run("provider_import", "Upstream")
    assert f"updated #{first.pk} from 101: IG Followers [Real] at 0.3000 (provider 0.2000 TRY)" in lines
    assert lines[-1] == "created 4, updated 1, skipped 1"
    assert Service.objects.count() == 5


def test_provider_import_refusals_exit_with_an_error(panel):
    run("provider_add", "Dollars", panel.url, KEY, "--currency", "USD")
    with pytest.raises(CommandError, match="No provider Nobody"):
        run("provider_import", "Nobody")
    with pytest.raises(CommandError, match="Dollars is in USD: set its exchange rate"):
        run("provider_import", "Dollars")
    Provider.objects.filter(name="Dollars").update(exchange_rate=Decimal("30"))
    panel.reply("services", {"error": "Invalid API key"})
    with pytest.raises(CommandError, match="Dollars: `services`: key or account refused: Invalid API key"):
        run("provider_import", "Dollars")
    assert panel.calls("services")[0].fields["key"] == KEY
