"""providers.services and providers.pricing: creating a provider, recording its health and balance
(through real HTTP to a stub panel), and the resale arithmetic, exact to 6 places."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings

from providers.errors import ProviderAuthError, ProviderTemporaryError
from providers.models import PermanentErrorPolicy, Provider
from providers.pricing import panel_amount, resale_rate
from providers.services import provider_balance_refresh, provider_create, provider_health_record
from providers.tests.stub_panel import Reply
from smmpanel.errors import DomainError

GOOD = {"name": "Upstream", "api_url": "https://up.example/api/v2", "api_key": "k" * 32}


@override_settings(PANEL_CURRENCY="TRY")
@pytest.mark.django_db
def test_provider_create_sets_the_exchange_rate_in_our_currency():
    provider = provider_create(**GOOD)
    assert (provider.currency, provider.exchange_rate) == ("TRY", Decimal(1))
    usd = provider_create(**{**GOOD, "name": "Dollars"}, currency="usd", default_markup_percent=Decimal("25"),
                          on_permanent_error=PermanentErrorPolicy.HOLD)
    assert (usd.currency, usd.exchange_rate, usd.panel_exchange_rate) == ("USD", None, None)
    assert provider_create(**{**GOOD, "name": "Euros"}, currency="EUR", exchange_rate=Decimal("37.5")).exchange_rate == 37.5


@override_settings(PANEL_CURRENCY="TRY")
@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "message"), [
    ({"name": " "}, "A provider needs a name"),
    ({"api_url": "ftp://up.example/api"}, "The API URL must be an http(s) URL"),
    ({"api_key": "two words"}, "The API key must be one word"),
    ({"currency": "US"}, "The currency must be three letters, e.g. USD"),
    ({"exchange_rate": Decimal("2")}, "A provider in TRY, the panel's currency, has the exchange rate 1"),
    ({"currency": "USD", "exchange_rate": Decimal("0")}, "The exchange rate must be above 0"),
    ({"default_markup_percent": Decimal("-100")}, "The markup must be above -100 %"),
    ({"on_permanent_error": "explode"}, "Unknown permanent-error policy"),
])
def test_provider_create_refuses(changes, message):
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        provider_create(**{**GOOD, **changes})
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_a_second_provider_of_the_same_name_is_refused():
    provider_create(**GOOD)
    with pytest.raises(DomainError, match="A provider named Upstream exists already"):
        provider_create(**GOOD)
    assert Provider.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_balance_refresh_keeps_the_balance_and_the_health(panel):
    provider = provider_create(**{**GOOD, "api_url": panel.url}, currency="USD")
    panel.reply("balance", {"balance": "125.123456", "currency": "USD"}, Reply(body=b"<html>", status=502),
                {"error": "Invalid API key"}, {"balance": 7})
    assert provider_balance_refresh(provider_id=provider.pk).amount == Decimal("125.123456")
    for expected in (ProviderTemporaryError, ProviderAuthError):
        with pytest.raises(expected):
            provider_balance_refresh(provider_id=provider.pk)
    provider.refresh_from_db()
    assert (provider.balance, provider.balance_currency) == (Decimal("125.12346"), "USD")
    assert provider.consecutive_failures == 2 and "Invalid API key" in provider.last_error
    assert provider.api_key not in provider.last_error
    provider_balance_refresh(provider_id=provider.pk)
    provider.refresh_from_db()
    assert (provider.balance, provider.consecutive_failures) == (Decimal(7), 0)
    assert provider.last_ok_at >= provider.last_error_at


@pytest.mark.django_db
def test_no_provider_call_inside_a_transaction():
    provider = provider_create(**GOOD)
    with pytest.raises(RuntimeError), transaction.atomic():
        provider_balance_refresh(provider_id=provider.pk)


@pytest.mark.django_db
def test_health_record_counts_failures_in_the_database():
    provider = provider_create(**GOOD)
    for _ in range(3):
        provider_health_record(provider_id=provider.pk, error=ProviderTemporaryError("x" * 900))
    provider.refresh_from_db()
    assert provider.consecutive_failures == 3 and len(provider.last_error) == 500
    provider_health_record(provider_id=provider.pk)
    provider.refresh_from_db()
    assert provider.consecutive_failures == 0 and provider.last_ok_at is not None


@pytest.mark.parametrize(("provider_rate", "exchange_rate", "markup", "rate"), [
    ("1.000000", "1", "0", "1.000000"),
    ("0.123456", "34.12345678", "25", "5.265932"),  # 0.123456 × 34.12345678 × 1.25 = 5.26593185…
    ("0.000001", "1", "50", "0.000002"),  # 0.0000015 rounds half-up
    ("99999999999999.999999", "99999.99999999", "12.3456", "11234559999998876543.887654"),
    ("3.5", "1", "-10", "3.150000"),
])
def test_resale_rate_is_exact_to_6_places(provider_rate, exchange_rate, markup, rate):
    assert resale_rate(provider_rate=Decimal(provider_rate), exchange_rate=Decimal(exchange_rate),
                       markup_percent=Decimal(markup)) == Decimal(rate)


def test_panel_amount():
    assert panel_amount(amount=Decimal("0.27819"), exchange_rate=Decimal("34.12345678")) == Decimal("9.49280")
