"""Writes about providers: creating one, and recording what its API answered (health, balance).

Calls to a provider never happen inside a database transaction (a slow provider would hold row
locks for its timeout): call first, then record the outcome in a short transaction of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from providers.client import Balance, client_for
from providers.errors import ProviderError
from providers.models import PermanentErrorPolicy, Provider
from smmpanel.errors import DomainError
from smmpanel.money import to_amount

_CURRENCY = re.compile(r"[A-Z]{3}")
_URL = URLValidator(schemes=["http", "https"])
LAST_ERROR_LENGTH = Provider._meta.get_field("last_error").max_length


def provider_fields_clean(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str | None = None,
    exchange_rate: Decimal | None = None,
    default_markup_percent: Decimal = Decimal(0),
    on_permanent_error: str = PermanentErrorPolicy.CANCEL,
) -> dict:
    """A provider's fields checked and normalised (trimmed, currency upper-cased, the exchange rate
    1 in the panel's currency), or a DomainError saying what is wrong. Used by create and by the
    admin's form, so both refuse the same things with the same words."""
    name, api_url, api_key = name.strip(), api_url.strip(), api_key.strip()
    currency = (currency or settings.PANEL_CURRENCY).strip().upper()
    if not name:
        raise DomainError("A provider needs a name")
    try:
        _URL(api_url)
    except ValidationError:
        raise DomainError("The API URL must be an http(s) URL") from None
    if not api_key or any(char.isspace() for char in api_key):
        raise DomainError("The API key must be one word")
    if not _CURRENCY.fullmatch(currency):
        raise DomainError("The currency must be three letters, e.g. USD")
    if currency == settings.PANEL_CURRENCY:
        if exchange_rate is not None and Decimal(exchange_rate) != 1:
            raise DomainError(f"A provider in {currency}, the panel's currency, has the exchange rate 1")
        exchange_rate = Decimal(1)
    elif exchange_rate is not None and Decimal(exchange_rate) <= 0:
        raise DomainError("The exchange rate must be above 0")
    if Decimal(default_markup_percent) <= -100:
        raise DomainError("The markup must be above -100 %")
    if on_permanent_error not in PermanentErrorPolicy.values:
        raise DomainError("Unknown permanent-error policy")
    return {
        "name": name, "api_url": api_url, "api_key": api_key, "currency": currency, "exchange_rate": exchange_rate,
        "default_markup_percent": default_markup_percent, "on_permanent_error": on_permanent_error,
    }


def provider_create(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str | None = None,
    exchange_rate: Decimal | None = None,
    default_markup_percent: Decimal = Decimal(0),
    on_permanent_error: str = PermanentErrorPolicy.CANCEL,
) -> Provider:
    """Add a provider. In the panel's currency the exchange rate is 1; in another it may be left
    unset for now (import refuses the provider until an operator sets it)."""
    cleaned = provider_fields_clean(
        name=name, api_url=api_url, api_key=api_key, currency=currency, exchange_rate=exchange_rate,
        default_markup_percent=default_markup_percent, on_permanent_error=on_permanent_error,
    )
    try:
        with transaction.atomic():
            return Provider.objects.create(**cleaned)
    except IntegrityError:
        raise DomainError(f"A provider named {cleaned['name']} exists already") from None


def provider_save(*, provider: Provider, new_api_key: str = "") -> Provider:
    """Save an operator's edit of a provider (new or changed); a blank `new_api_key` keeps the
    stored key. New prices from a changed exchange rate or markup follow at the next sync."""
    cleaned = provider_fields_clean(
        name=provider.name, api_url=provider.api_url, api_key=new_api_key.strip() or provider.api_key,
        currency=provider.currency, exchange_rate=provider.exchange_rate,
        default_markup_percent=provider.default_markup_percent, on_permanent_error=provider.on_permanent_error,
    )
    for field, value in cleaned.items():
        setattr(provider, field, value)
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError:
        raise DomainError(f"A provider named {provider.name} exists already") from None
    return provider


def provider_health_record(*, provider_id: int, error: ProviderError | None = None) -> None:
    """Record one call's outcome: ok resets the failure count, an error counts one more. One UPDATE,
    so concurrent workers' records add up instead of overwriting each other."""
    now = timezone.now()
    providers = Provider.objects.filter(pk=provider_id)
    if error is None:
        providers.update(last_ok_at=now, consecutive_failures=0, updated_at=now)
    else:
        providers.update(
            last_error=error.message[:LAST_ERROR_LENGTH], last_error_at=now,
            consecutive_failures=F("consecutive_failures") + 1, updated_at=now,
        )


def provider_balance_refresh(*, provider_id: int) -> Balance:
    """Ask the provider for our balance there and keep it (and the call's health); raises ProviderError."""
    if connection.in_atomic_block:
        raise RuntimeError("a provider is called outside any transaction: it would hold locks while waiting")
    provider = Provider.objects.get(pk=provider_id)
    try:
        balance = client_for(provider).balance()
    except ProviderError as exc:
        provider_health_record(provider_id=provider_id, error=exc)
        raise
    now = timezone.now()
    Provider.objects.filter(pk=provider_id).update(
        balance=to_amount(balance.amount), balance_currency=balance.currency or provider.currency, balance_checked_at=now,
        last_ok_at=now, consecutive_failures=0, updated_at=now,
    )
    return balance


@dataclass(frozen=True)
class ConnectionReport:
    balance: Balance
    services: int  # entries in the provider's catalog


def provider_connection_test(*, provider_id: int) -> ConnectionReport:
    """Prove the URL and key work: `balance` (refused keys show here) and `services` (the catalog
    reads). Keeps the balance and the health; raises ProviderError."""
    balance = provider_balance_refresh(provider_id=provider_id)
    provider = Provider.objects.get(pk=provider_id)
    try:
        services = client_for(provider).services()
    except ProviderError as exc:
        provider_health_record(provider_id=provider_id, error=exc)
        raise
    provider_health_record(provider_id=provider_id)
    return ConnectionReport(balance=balance, services=len(services))
