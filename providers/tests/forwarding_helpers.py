"""Shared setup for the forwarding, polling and pass-on tests: a provider pointed at a stub panel,
a service resold from it, and orders placed through the order service (as the API does)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Account, LedgerEntry
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from orders.services import order_place
from providers.models import Provider
from providers.tests.conftest import STUB_KEY
from providers.tests.factories import ProviderFactory


@pytest.fixture
def provider(transactional_db, panel) -> Provider:
    return ProviderFactory(name="Upstream", api_url=panel.url, api_key=STUB_KEY, currency="TRY", exchange_rate=1)


@pytest.fixture
def resold(provider):
    """A service resold from the stub provider (its service 501), at 5.00 per 1000 here."""
    return ServiceFactory(
        provider=provider, provider_service_id="501", provider_rate=Decimal("4"), rate=Decimal("5"),
        refill=True, refill_days=30,
    )


@pytest.fixture
def buyer(transactional_db) -> Account:
    return reseller_with_key("buyer", Decimal("100"))


def place(buyer: Account, service, *, quantity: int = 1000, link: str = "https://instagram.com/forwarded", **extra) -> Order:
    return order_place(
        account=buyer, fields={"service": service.pk, "link": link, "quantity": quantity, **extra}, actor="api:buyer"
    )


def money_is_consistent(account_id: int) -> Decimal:
    """The ledger invariant, asserted; returns the balance."""
    account = Account.objects.get(pk=account_id)
    total = sum((entry.amount for entry in LedgerEntry.objects.filter(account_id=account_id)), Decimal(0))
    assert account.balance == total
    return account.balance


def refunds_of(order_id: int) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order_id=order_id, kind="refund").values_list("amount", flat=True))
