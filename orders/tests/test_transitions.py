"""order_transition follows the lifecycle table exactly, logs every move and refunds once."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import lifecycle
from orders.models import Order, OrderStatus
from orders.services import order_place, order_transition
from smmpanel.errors import IllegalTransition

S = OrderStatus
# DESIGN.md, "Order lifecycle": the moves the table in orders/lifecycle.py must hold, no more.
DESIGNED_MOVES = {
    (S.PENDING, S.PROCESSING),
    (S.PENDING, S.CANCELED),
    (S.PROCESSING, S.IN_PROGRESS),
    (S.PROCESSING, S.COMPLETED),
    (S.PROCESSING, S.PARTIAL),
    (S.PROCESSING, S.CANCELED),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.PARTIAL),
}
ALL_PAIRS = [(old, new) for old in S for new in S]


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("alice", "100")


def place(account: Account, *, rate: str = "5", quantity: int = 1000) -> Order:
    service = ServiceFactory(rate=Decimal(rate))
    fields = {"service": str(service.pk), "link": f"@target{service.pk}", "quantity": str(quantity)}
    return order_place(account=account, fields=fields, actor="api:alice")


def move(order: Order, new_status: str, remains: int | None = None) -> Order:
    return order_transition(order_id=order.pk, new_status=new_status, reason="test", actor="worker", remains=remains)


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def refunds(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).values_list("amount", flat=True))


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.remains,
        balance(order.account),
        list(LedgerEntry.objects.values_list("id", flat=True)),
        list(order.events.values_list("id", flat=True)),
    )


def test_lifecycle_table_is_the_designed_one():
    assert set(lifecycle.TRANSITIONS) == set(S)
    table = {(old, new) for old, targets in lifecycle.TRANSITIONS.items() for new in targets}
    assert table == DESIGNED_MOVES
    assert lifecycle.TERMINAL == {S.COMPLETED, S.PARTIAL, S.CANCELED}
    assert all(lifecycle.is_allowed(old, new) == ((old, new) in DESIGNED_MOVES) for old, new in ALL_PAIRS)


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS, ids=[f"{old}->{new}" for old, new in ALL_PAIRS])
def test_transition_follows_the_table(account, old, new):
    order = place(account)
    Order.objects.filter(pk=order.pk).update(status=old)
    before = snapshot(order)

    if new not in lifecycle.TRANSITIONS[old]:
        with pytest.raises(IllegalTransition):
            move(order, new)
        assert snapshot(order) == before
        return

    moved = move(order, new)

    order.refresh_from_db()
    assert moved.status == order.status == new
    new_events = list(order.events.exclude(pk__in=before[4]))
    assert [(e.old_status, e.new_status, e.reason, e.actor) for e in new_events] == [(old, new, "test", "worker")]
    # No `remains` given: a Partial from here has delivered nothing, so both refund the whole charge.
    expected_refunds = [Decimal("5")] if new in (S.CANCELED, S.PARTIAL) else []
    assert refunds(order) == expected_refunds
    assert balance(account) == Decimal("95") + sum(expected_refunds, Decimal(0))


@pytest.mark.parametrize(
    ("rate", "quantity", "remains", "charge", "refund"),
    [
        ("5", 1000, 250, "5", "1.25"),
        ("0.00005", 1000, 500, "0.00005", "0.00003"),  # 0.000025: half-up, not half-even
        ("0.00125", 200, 100, "0.00025", "0.00013"),  # 0.000125
        ("1.234567", 3333, 1111, "4.11481", "1.37160"),
        ("7.777777", 100, 1, "0.77778", "0.00778"),
        ("5", 1000, 1000, "5", "5"),
        ("5", 1000, 7000, "5", "5"),  # remains beyond the quantity count as the quantity
    ],
)
def test_partial_refunds_the_undelivered_share_rounded_half_up(account, rate, quantity, remains, charge, refund):
    order = place(account, rate=rate, quantity=quantity)
    assert order.charge == Decimal(charge)
    move(order, S.PROCESSING)
    move(order, S.IN_PROGRESS)

    move(order, S.PARTIAL, remains=remains)

    order.refresh_from_db()
    assert (order.status, order.remains) == (S.PARTIAL, min(remains, quantity))
    assert refunds(order) == [Decimal(refund)]
    assert balance(account) == Decimal("100") - Decimal(charge) + Decimal(refund)


def test_partial_with_everything_delivered_refunds_nothing(account):
    order = place(account)
    move(order, S.PROCESSING)
    move(order, S.PARTIAL, remains=0)
    assert refunds(order) == []
    assert balance(account) == Decimal("95")


@pytest.mark.parametrize("remains", [None, 0, 300, 1000])
def test_completed_sets_remains_to_zero_without_refund(account, remains):
    order = place(account)
    move(order, S.PROCESSING)
    move(order, S.IN_PROGRESS, remains=600)

    move(order, S.COMPLETED, remains=remains)

    order.refresh_from_db()
    assert (order.status, order.remains) == (S.COMPLETED, 0)
    assert refunds(order) == []
    assert balance(account) == Decimal("95")


@pytest.mark.parametrize("old", [S.PENDING, S.PROCESSING])
def test_canceled_refunds_the_whole_charge_whatever_remains_says(account, old):
    order = place(account, rate="1.234567", quantity=3333)
    if old == S.PROCESSING:
        move(order, S.PROCESSING)
    move(order, S.CANCELED, remains=1)
    assert refunds(order) == [Decimal("4.11481")]
    assert balance(account) == Decimal("100")


@pytest.mark.parametrize(
    ("path", "again"),
    [
        ([S.CANCELED], S.CANCELED),
        ([S.PROCESSING, S.CANCELED], S.CANCELED),
        ([S.PROCESSING, S.PARTIAL], S.PARTIAL),
        ([S.PROCESSING, S.IN_PROGRESS, S.PARTIAL], S.PARTIAL),
        ([S.PROCESSING, S.PARTIAL], S.CANCELED),
        ([S.PROCESSING, S.CANCELED], S.PARTIAL),
    ],
)
def test_refunding_moves_twice_never_refund_twice(account, path, again):
    order = place(account)
    for status in path:
        move(order, status, remains=400)
    paid_back = refunds(order)
    assert len(paid_back) == 1
    before = snapshot(order)

    with pytest.raises(IllegalTransition):
        move(order, again, remains=1000)

    assert snapshot(order) == before
    assert refunds(order) == paid_back


def test_a_move_twice_is_refused_the_second_time(account):
    order = place(account)
    move(order, S.PROCESSING)
    before = snapshot(order)
    with pytest.raises(IllegalTransition):
        move(order, S.PROCESSING)
    assert snapshot(order) == before


def test_remains_given_with_a_move_is_kept_within_the_quantity(account):
    order = place(account)
    move(order, S.PROCESSING, remains=5000)
    order.refresh_from_db()
    assert order.remains == 1000
