"""order_cancel: a not-yet-started order of one's own is canceled with a full refund, exactly once."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders.models import HoldReason, Order, OrderStatus
from orders.services import order_cancel, order_place
from smmpanel.errors import OrderNotCancelable, OrderNotFound


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("alice", "100")


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("5"))


def place(account: Account, service: Service, link: str = "https://instagram.com/alice", quantity: int = 1000) -> Order:
    fields = {"service": str(service.pk), "link": link, "quantity": str(quantity)}
    return order_place(account=account, fields=fields, actor="api:alice")


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def snapshot(order: Order) -> tuple:
    """Everything a refused cancel must leave as it was."""
    order.refresh_from_db()
    return (
        order.status,
        order.remains,
        balance(order.account),
        list(LedgerEntry.objects.values_list("id", flat=True)),
        list(order.events.values_list("id", flat=True)),
    )


def refunds(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).values_list("amount", flat=True))


def test_cancel_refunds_the_whole_charge_and_logs_the_move(account, service):
    order = place(account, service)
    assert balance(account) == Decimal("95")

    canceled = order_cancel(account=account, order_id=order.pk, actor="api:alice")

    assert canceled.pk == order.pk and canceled.status == OrderStatus.CANCELED
    order.refresh_from_db()
    assert (order.status, order.remains) == (OrderStatus.CANCELED, 1000)
    assert refunds(order) == [Decimal("5")]
    assert balance(account) == Decimal("100")
    event = order.events.last()
    assert (event.old_status, event.new_status, event.actor) == (OrderStatus.PENDING, OrderStatus.CANCELED, "api:alice")


def test_cancel_twice_is_safe(account, service):
    order = place(account, service)
    order_cancel(account=account, order_id=order.pk, actor="api:alice")
    before = snapshot(order)

    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="api:alice")

    assert snapshot(order) == before
    assert refunds(order) == [Decimal("5")]
    assert balance(account) == Decimal("100")


def test_processing_order_not_yet_started_can_be_canceled(account, service):
    order = place(account, service)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PROCESSING)
    order_cancel(account=account, order_id=order.pk, actor="api:alice")
    assert refunds(order) == [Decimal("5")]
    assert balance(account) == Decimal("100")


def test_cancel_of_another_accounts_order_is_not_found(account, service):
    order = place(account, service)
    bob = reseller_with_key("bob", "50")
    before = snapshot(order)

    with pytest.raises(OrderNotFound):
        order_cancel(account=bob, order_id=order.pk, actor="api:bob")

    assert snapshot(order) == before
    assert balance(bob) == Decimal("50")


def test_cancel_of_an_unknown_order_is_not_found(account):
    with pytest.raises(OrderNotFound):
        order_cancel(account=account, order_id=987654, actor="api:alice")


def test_cancel_refused_when_the_service_does_not_allow_it(account):
    order = place(account, ServiceFactory(rate=Decimal("5"), cancel=False))
    before = snapshot(order)
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="api:alice")
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("status", "remains"),
    [
        (OrderStatus.IN_PROGRESS, 1000),  # started, even with nothing delivered yet
        (OrderStatus.IN_PROGRESS, 400),
        (OrderStatus.PROCESSING, 999),  # delivery has begun
        (OrderStatus.COMPLETED, 0),
        (OrderStatus.PARTIAL, 300),
    ],
)
def test_cancel_refused_once_delivery_started_or_finished(account, service, status, remains):
    order = place(account, service)
    Order.objects.filter(pk=order.pk).update(status=status, remains=remains)
    before = snapshot(order)
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="api:alice")
    assert snapshot(order) == before


def test_cancel_refused_while_an_operator_hold_is_on(account, service):
    order = place(account, service)
    Order.objects.filter(pk=order.pk).update(hold_reason=HoldReason.NEEDS_CHECKING)
    before = snapshot(order)
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=account, order_id=order.pk, actor="api:alice")
    assert snapshot(order) == before

