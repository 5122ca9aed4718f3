"""Real third-party SMM API client libraries from PyPI drive a live server end to end.

Each library is used exactly as a reseller would use it: pointed at the live server's `/api/v2`,
it lists services, reads the balance, places an order, reads its status, cancels it and sees the
refund; and one of our API errors comes back as the library's own exception carrying our message.
The outcomes are checked in the database (orders, ledger, balances), not only in the answers.

What each library sends (read from its source, pinned in requirements-dev.txt):

- safesmm 0.1.0 (`SafeSMM`): urllib POST, form-encoded; `multi_status` is `action=status` with
  `orders=`; `cancel` always sends the batch form `orders=1,2`; an answer with an `error` key
  raises `SafeSMMError(message)`.
- babismm 1.0.1 (import `smm`, class `SMM`): requests POST, form-encoded, a browser User-Agent;
  `get_multi_status` is `action=status` with `orders=`; `cancel_orders` is the batch form; an
  `error` answer raises `SMMAPIError(message)`, a non-2xx status `SMMNetworkError`.
- smmpy 0.1.0 (module `smmpy`, class `smm`): requests POST, form-encoded, every value as a string;
  same actions as babismm; an `error` answer raises a bare `Exception(message)` (the library has
  no exception class of its own).
- optsmm 1.0.1 (`OptSMM`, async, aiohttp): GET with everything in the query string, the key put
  into the URL unencoded; `base_url` is hard-coded, so the tests set it. It has no batch status;
  `order_cancel` sends the single form and requires `"status": "success"` in the answer;
  `balance()` returns `(float, currency)`. Errors are raised as `Exception("<Russian text>: <our
  message>")`. `create_order` first checks the service, minimum and balance itself from
  `services`/`balance` (so "Service not found" and "Insufficient balance" never reach the
  panel: for too little balance it *returns* `{"error": …}` in Russian instead of raising); our
  errors it does surface are e.g. the maximum bound, "Order not found" and a second cancel.

All four work against the panel as specified in API.md; none had to be left out.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import safesmm
import smm as babismm
import smmpy
from optsmm import OptSMM

from accounts.models import Account, LedgerEntry
from catalog.tests.factories import ServiceFactory
from orders.models import Order

LINK = "https://instagram.com/alice"


@pytest.fixture
def api_url(live_server) -> str:
    return live_server.url + "/api/v2"


@pytest.fixture
def service(db):
    return ServiceFactory(rate=Decimal("5"), min_quantity=100, max_quantity=5000, cancel=True)


@pytest.fixture
def pricey_service(db):
    """An order of its maximum costs 250, more than alice's 100."""
    return ServiceFactory(rate=Decimal("50"), min_quantity=100, max_quantity=5000, cancel=True)


def _balance(account: Account) -> Decimal:
    account.refresh_from_db(fields=["balance"])
    return account.balance


def _ledger_kinds(account: Account) -> list[str]:
    return list(LedgerEntry.objects.filter(account=account).order_by("id").values_list("kind", flat=True))


def _assert_listed(listed, service) -> None:
    assert isinstance(listed, list)
    row = next(row for row in listed if row["service"] == service.pk)
    assert row["name"] == service.name
    assert row["rate"] == "5.0000"
    assert (row["min"], row["max"], row["type"], row["cancel"]) == (100, 5000, "Default", True)


def _assert_placed(order_id, reseller, service) -> Order:
    assert isinstance(order_id, int)
    order = Order.objects.get(pk=order_id)
    assert order.account_id == reseller.pk
    assert order.service_id == service.pk
    assert order.link == LINK
    assert (order.quantity, order.remains, order.status) == (1000, 1000, "Pending")
    assert order.charge == Decimal("5")
    assert _balance(reseller) == Decimal("95")
    assert _ledger_kinds(reseller) == ["deposit", "charge"]
    return order


PENDING_STATUS = {"charge": "5.00", "start_count": 0, "status": "Pending", "remains": 1000, "currency": "TRY"}


def _assert_canceled_and_refunded(order_id, reseller) -> None:
    assert Order.objects.get(pk=order_id).status == "Canceled"
    assert _balance(reseller) == Decimal("100")
    assert _ledger_kinds(reseller) == ["deposit", "charge", "refund"]
    refund = LedgerEntry.objects.get(account=reseller, kind="refund")
    assert (refund.order_id, refund.amount) == (order_id, Decimal("5"))


# --- safesmm -----------------------------------------------------------------------------------


def test_safesmm_places_reads_cancels_and_sees_the_refund(api_url, reseller, service):
    client = safesmm.SafeSMM(reseller.key, api_url=api_url)

    _assert_listed(client.services(), service)
    assert client.balance() == {"balance": "100.00", "currency": "TRY"}

    placed = client.add_order(service.pk, LINK, 1000)
    assert placed == {"order": placed["order"]}
    order_id = placed["order"]
    _assert_placed(order_id, reseller, service)
    assert client.balance() == {"balance": "95.00", "currency": "TRY"}

    assert client.status(order_id) == PENDING_STATUS
    assert client.multi_status([order_id, 999999]) == {
        str(order_id): PENDING_STATUS,
        "999999": {"error": "Order not found"},
    }

    # safesmm always cancels in the batch form, even for one order.
    assert client.cancel(order_id) == [{"order": order_id, "cancel": 1}]
    _assert_canceled_and_refunded(order_id, reseller)
    assert client.status(order_id)["status"] == "Canceled"
    assert client.balance() == {"balance": "100.00", "currency": "TRY"}
    # A second cancel is refused per order, and refunds nothing more.
    assert client.cancel([order_id]) == [{"order": order_id, "cancel": {"error": "Order cannot be canceled"}}]
    assert _balance(reseller) == Decimal("100")


def test_safesmm_raises_our_errors(api_url, reseller, pricey_service):
    client = safesmm.SafeSMM(reseller.key, api_url=api_url)

    with pytest.raises(safesmm.SafeSMMError) as insufficient:
        client.add_order(pricey_service.pk, LINK, 5000)
    assert str(insufficient.value) == "Insufficient balance"

    with pytest.raises(safesmm.SafeSMMError) as missing:
        client.add_order(999999, LINK, 1000)
    assert str(missing.value) == "Service not found"

    with pytest.raises(safesmm.SafeSMMError) as not_found:
        client.status(999999)
    assert str(not_found.value) == "Order not found"

    with pytest.raises(safesmm.SafeSMMError) as bad_key:
        safesmm.SafeSMM("not-a-key", api_url=api_url).balance()
    assert str(bad_key.value) == "Invalid API key"

    assert not Order.objects.exists()
    assert _balance(reseller) == Decimal("100")
    assert _ledger_kinds(reseller) == ["deposit"]


# --- babismm (import name `smm`) ---------------------------------------------------------------


def test_babismm_places_reads_cancels_and_sees_the_refund(api_url, reseller, service):
    with babismm.SMM(api_url, reseller.key) as client:
        _assert_listed(client.get_services(), service)
        assert client.get_balance() == {"balance": "100.00", "currency": "TRY"}

        placed = client.add_order(service.pk, link=LINK, quantity=1000)
        order_id = placed["order"]
        assert placed == {"order": order_id}
        _assert_placed(order_id, reseller, service)

        assert client.get_status(order_id) == PENDING_STATUS
        assert client.get_multi_status([order_id, 999999]) == {
            str(order_id): PENDING_STATUS,
            "999999": {"error": "Order not found"},
        }

        assert client.cancel_orders([order_id, 999999]) == [
            {"order": order_id, "cancel": 1},
            {"order": 999999, "cancel": {"error": "Order not found"}},
        ]
        _assert_canceled_and_refunded(order_id, reseller)
        assert client.get_status(order_id)["status"] == "Canceled"
        assert client.get_balance() == {"balance": "100.00", "currency": "TRY"}


def test_babismm_raises_our_errors(api_url, reseller, pricey_service):
    with babismm.SMM(api_url, reseller.key) as client:
        with pytest.raises(babismm.SMMAPIError) as insufficient:
            client.add_order(pricey_service.pk, link=LINK, quantity=5000)
        assert str(insufficient.value) == "Insufficient balance"

        with pytest.raises(babismm.SMMAPIError) as missing:
            client.add_order(999999, link=LINK, quantity=1000)
        assert str(missing.value) == "Service not found"

        with pytest.raises(babismm.SMMAPIError) as too_few:
            client.add_order(pricey_service.pk, link=LINK, quantity=10)
        assert str(too_few.value) == "Quantity less than minimal 100"

    assert not Order.objects.exists()
    assert _balance(reseller) == Decimal("100")
    assert _ledger_kinds(reseller) == ["deposit"]


# --- smmpy -------------------------------------------------------------------------------------


def test_smmpy_places_reads_cancels_and_sees_the_refund(api_url, reseller, service):
    client = smmpy.smm(api_url, reseller.key)

    _assert_listed(client.get_services(), service)
    assert client.get_balance() == {"balance": "100.00", "currency": "TRY"}

    placed = client.add_order(service.pk, LINK, 1000)
    order_id = placed["order"]
    assert placed == {"order": order_id}
    _assert_placed(order_id, reseller, service)

    assert client.get_status(order_id) == PENDING_STATUS
    assert client.get_multi_status([order_id]) == {str(order_id): PENDING_STATUS}

    assert client.cancel_orders([order_id]) == [{"order": order_id, "cancel": 1}]
    _assert_canceled_and_refunded(order_id, reseller)
    assert client.get_status(order_id)["status"] == "Canceled"
    assert client.get_balance() == {"balance": "100.00", "currency": "TRY"}


def test_smmpy_raises_our_errors(api_url, reseller, pricey_service):
    client = smmpy.smm(api_url, reseller.key)

    # smmpy has no exception class: it raises a bare Exception with our message.
    with pytest.raises(Exception) as insufficient:
        client.add_order(pricey_service.pk, LINK, 5000)
    assert str(insufficient.value) == "Insufficient balance"

    with pytest.raises(Exception) as missing:
        client.add_order(999999, LINK, 1000)
    assert str(missing.value) == "Service not found"

    assert not Order.objects.exists()
    assert _balance(reseller) == Decimal("100")
    assert _ledger_kinds(reseller) == ["deposit"]


# --- optsmm (async, GET) -----------------------------------------------------------------------


def _optsmm(api_url: str, key: str) -> OptSMM:
    client = OptSMM(key)
    client.base_url = api_url  # hard-coded to optsmm.ru in the library
    return client


def test_optsmm_places_reads_cancels_and_sees_the_refund(api_url, reseller, service):
    client = _optsmm(api_url, reseller.key)

    _assert_listed(asyncio.run(client.services()), service)
    assert asyncio.run(client.balance()) == (100.0, "TRY")

    order_id = asyncio.run(client.create_order(service.pk, LINK, 1000))
    _assert_placed(order_id, reseller, service)
    assert asyncio.run(client.balance()) == (95.0, "TRY")

    assert asyncio.run(client.order_status(order_id)) == PENDING_STATUS

    # optsmm cancels in the single form and needs `"status": "success"` in the answer.
    assert asyncio.run(client.order_cancel(order_id)) is True
    _assert_canceled_and_refunded(order_id, reseller)
    assert asyncio.run(client.order_status(order_id))["status"] == "Canceled"
    assert asyncio.run(client.balance()) == (100.0, "TRY")


def test_optsmm_raises_our_errors(api_url, reseller, service, pricey_service):
    client = _optsmm(api_url, reseller.key)

    # Past the library's own checks (service, minimum, balance), our bound is the answer.
    with pytest.raises(Exception) as too_many:
        asyncio.run(client.create_order(service.pk, LINK, 5001))
    assert str(too_many.value).endswith(": Quantity more than maximum 5000")

    with pytest.raises(Exception) as not_found:
        asyncio.run(client.order_status(999999))
    assert str(not_found.value).endswith(": Order not found")

    with pytest.raises(Exception) as bad_key:
        asyncio.run(_optsmm(api_url, "not-a-key").balance())
    assert str(bad_key.value).endswith(": Invalid API key")

    # Too little balance: the library refuses by itself from our `balance` and `rate` answers.
    refused = asyncio.run(client.create_order(pricey_service.pk, LINK, 5000))
    assert set(refused) == {"error"}

    order_id = asyncio.run(client.create_order(service.pk, LINK, 1000))
    assert asyncio.run(client.order_cancel(order_id)) is True
    with pytest.raises(Exception) as twice:
        asyncio.run(client.order_cancel(order_id))
    assert str(twice.value).endswith(": Order cannot be canceled")

    assert list(Order.objects.values_list("pk", "status")) == [(order_id, "Canceled")]
    assert _balance(reseller) == Decimal("100")
    assert _ledger_kinds(reseller) == ["deposit", "charge", "refund"]
