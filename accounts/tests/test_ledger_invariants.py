"""The ledger's invariants hold after any sequence of money moves, and the database enforces them.

Invariant (DESIGN.md, "Money"): `balance == sum(ledger amounts)`, the balance never negative,
and per order at most one charge and one refund, the refund never above the charge.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.services import MAX_BALANCE, account_adjust, account_deposit, ledger_post
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import lifecycle
from orders.models import ACTIVE_STATUSES, Order, OrderStatus
from orders.services import order_cancel, order_place, order_transition
from smmpanel.errors import (
    ActiveOrderExists,
    DomainError,
    IllegalTransition,
    InsufficientBalance,
    OrderNotCancelable,
)

AMOUNT = Decimal("0.00001")
# (rate per 1000, reseller may cancel): fine rates make the rounding matter.
SERVICES = [
    (Decimal("5"), True),
    (Decimal("0.012345"), True),
    (Decimal("7.777777"), False),
    (Decimal("23.456789"), True),
]


def half_up(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT, rounding=ROUND_HALF_UP)


# --- The property: a state machine drives the services and keeps its own model of the money ---


@dataclass
class ModelOrder:
    pk: int
    link: str
    service: int
    quantity: int
    charge: Decimal
    remains: int
    status: str = OrderStatus.PENDING
    refunded: Decimal = Decimal(0)


amounts = st.integers(1, 15_000_000).map(lambda n: n * AMOUNT)  # 0.00001 … 150.00000
service_indexes = st.integers(0, len(SERVICES) - 1)
quantities = st.integers(100, 5000)
opening_amounts = st.integers(25, 300).map(Decimal) | amounts.map(lambda amount: amount + 25)  # room for a first order


class LedgerMachine(RuleBasedStateMachine):
    """Each operation runs in its own transaction, as in production; the whole run is rolled back."""

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        user = get_user_model().objects.create_user(username="prop")
        self.account = Account.objects.create(user=user)
        self.services = [ServiceFactory(rate=rate, cancel=cancel) for rate, cancel in SERVICES]
        self.balance = Decimal(0)
        self.placed: list[ModelOrder] = []
        self.links = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize(target=orders, amount=opening_amounts, service=service_indexes)
    def open_account(self, amount: Decimal, service: int):
        if amount:
            self.deposit(amount)
        return self.place(service, quantity=1000)

    @rule(amount=amounts)
    def deposit(self, amount: Decimal) -> None:
        with transaction.atomic():
            account_deposit(account=self.account, amount=amount, memo="top-up")
        self.balance += amount

    @rule(amount=amounts, debit=st.booleans())
    def adjust(self, amount: Decimal, debit: bool) -> None:
        amount = -amount if debit else amount
        if self.balance + amount < 0:
            with pytest.raises(InsufficientBalance), transaction.atomic():
                account_adjust(account=self.account, amount=amount, memo="correction")
            return
        with transaction.atomic():
            account_adjust(account=self.account, amount=amount, memo="correction")
        self.balance += amount

    def _place(self, service: int, quantity: int, link: str):
        charge = half_up(SERVICES[service][0] * quantity / 1000)
        fields = {"service": str(self.services[service].pk), "link": link, "quantity": str(quantity)}
        expected = None
        if any(o.service == service and o.link == link and o.status in ACTIVE_STATUSES for o in self.placed):
            expected = ActiveOrderExists
        elif self.balance < charge:
            expected = InsufficientBalance
        if expected:
            with pytest.raises(expected), transaction.atomic():
                order_place(account=self.account, fields=fields, actor="test")
            return multiple()
        with transaction.atomic():
            order = order_place(account=self.account, fields=fields, actor="test")
        assert order.charge == charge
        placed = ModelOrder(order.pk, link, service, quantity, charge, remains=quantity)
        self.placed.append(placed)
        self.balance -= charge
        return placed

    @rule(target=orders, service=service_indexes, quantity=quantities)
    def place(self, service: int, quantity: int):
        self.links += 1
        return self._place(service, quantity, f"https://instagram.com/user{self.links}")

    @rule(target=orders, same=orders, quantity=quantities)
    def place_same_link(self, same: ModelOrder, quantity: int):
        return self._place(same.service, quantity, same.link)

    @rule(order=orders)
    def cancel(self, order: ModelOrder) -> None:
        cancelable = (
            SERVICES[order.service][1]
            and order.status in (OrderStatus.PENDING, OrderStatus.PROCESSING)
            and order.remains == order.quantity
        )
        if not cancelable:
            with pytest.raises(OrderNotCancelable), transaction.atomic():
                order_cancel(account=self.account, order_id=order.pk, actor="test")
            return
        with transaction.atomic():
            order_cancel(account=self.account, order_id=order.pk, actor="test")
        order.status, order.refunded = OrderStatus.CANCELED, order.charge
        self.balance += order.charge

    @rule(order=orders, new_status=st.sampled_from(list(OrderStatus)), remains=st.none() | st.integers(0, 6000))
    def move(self, order: ModelOrder, new_status: str, remains: int | None) -> None:
        if new_status not in lifecycle.TRANSITIONS[order.status]:
            with pytest.raises(IllegalTransition), transaction.atomic():
                order_transition(order_id=order.pk, new_status=new_status, reason="t", actor="worker", remains=remains)
            return
        with transaction.atomic():
            order_transition(order_id=order.pk, new_status=new_status, reason="t", actor="worker", remains=remains)
        order.status = new_status
        if new_status == OrderStatus.COMPLETED:
            order.remains = 0
        elif remains is not None:
            order.remains = min(remains, order.quantity)
        refund = Decimal(0)
        if new_status == OrderStatus.CANCELED:
            refund = order.charge
        elif new_status == OrderStatus.PARTIAL:
            refund = half_up(order.charge * order.remains / order.quantity)
        order.refunded += refund
        self.balance += refund

    @rule(
        order=orders,
        choices=st.lists(st.integers(0, 3), min_size=1, max_size=3),
        remains=st.none() | st.integers(0, 6000),
    )
    def move_along(self, order: ModelOrder, choices: list[int], remains: int | None) -> None:
        """Up to three moves the table allows, as the worker and operators make them."""
        for choice in choices:
            allowed = [status for status in OrderStatus if status in lifecycle.TRANSITIONS[order.status]]
            if allowed:
                self.move(order, allowed[choice % len(allowed)], remains)

    @invariant()
    def ledger_matches_balance_and_orders(self) -> None:
        balance = Account.objects.values_list("balance", flat=True).get(pk=self.account.pk)
        running = Decimal(0)
        for amount, balance_after in (
            LedgerEntry.objects.filter(account=self.account).order_by("id").values_list("amount", "balance_after")
        ):
            running += amount
            assert balance_after == running >= 0
        assert balance == running == self.balance >= 0

        rows: dict[int, dict[str, list[Decimal]]] = {}
        for order_id, kind, amount in LedgerEntry.objects.filter(
            account=self.account, order__isnull=False
        ).values_list("order_id", "kind", "amount"):
            rows.setdefault(order_id, {}).setdefault(kind, []).append(amount)
        stored = {o.pk: o for o in Order.objects.filter(account=self.account)}
        assert set(stored) == {o.pk for o in self.placed} == set(rows)
        for expected in self.placed:
            order, kinds = stored[expected.pk], rows[expected.pk]
            assert (order.status, order.remains) == (expected.status, expected.remains)
            assert set(kinds) <= {LedgerKind.CHARGE, LedgerKind.REFUND}
            assert kinds[LedgerKind.CHARGE] == [-order.charge]
            refunds = kinds.get(LedgerKind.REFUND, [])
            assert len(refunds) <= 1
            assert sum(refunds, Decimal(0)) == expected.refunded
            assert 0 <= expected.refunded <= order.charge


def test_any_sequence_of_money_moves_keeps_the_ledger_invariants(db):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=60, stateful_step_count=25, deadline=None),
    )


# --- The guards, one by one ---


@pytest.fixture
def account(db):
    return reseller_with_key("carol", "10")


def _ledger_state(account: Account) -> tuple[Decimal, list]:
    balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    return balance, list(LedgerEntry.objects.filter(account=account).values_list("id", "amount"))


def test_ledger_post_refuses_to_overdraw_and_changes_nothing(account):
    before = _ledger_state(account)
    with pytest.raises(InsufficientBalance):
        ledger_post(account_id=account.pk, amount=Decimal("-10.00001"), kind=LedgerKind.ADJUSTMENT, memo="x")
    # The enclosing transaction stays usable, and nothing was written.
    assert _ledger_state(account) == before


@pytest.mark.postgres  # SQLite keeps decimals as floats: 16 significant digits do not round-trip
def test_ledger_post_refuses_a_balance_the_columns_cannot_hold(account):
    ledger_post(account_id=account.pk, amount=MAX_BALANCE - Decimal(10), kind=LedgerKind.DEPOSIT)
    before = _ledger_state(account)
    assert before[0] == MAX_BALANCE
    with pytest.raises(DomainError, match="largest amount"):
        ledger_post(account_id=account.pk, amount=Decimal("0.00001"), kind=LedgerKind.DEPOSIT)
    assert _ledger_state(account) == before


def test_ledger_post_may_empty_the_balance_exactly(account):
    entry = ledger_post(account_id=account.pk, amount=Decimal("-10"), kind=LedgerKind.ADJUSTMENT, memo="x")
    assert entry.balance_after == 0
    assert _ledger_state(account)[0] == 0


def test_ledger_post_rounds_half_up_to_five_places(account):
    entry = ledger_post(account_id=account.pk, amount=Decimal("0.000005"), kind=LedgerKind.DEPOSIT)
    assert entry.amount == Decimal("0.00001")
    assert _ledger_state(account)[0] == Decimal("10.00001")


def test_database_refuses_a_negative_balance_written_directly(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=Decimal("-0.00001"))
    assert _ledger_state(account)[0] == Decimal("10")


def test_database_refuses_a_negative_balance_after(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=LedgerKind.ADJUSTMENT, amount=Decimal("-11"), balance_after=Decimal("-1")
        )


@pytest.fixture
def canceled_order(account) -> Order:
    service = ServiceFactory(rate=Decimal("5"))
    order = order_place(
        account=account, fields={"service": str(service.pk), "link": "@dave", "quantity": "1000"}, actor="test"
    )
    return order_cancel(account=account, order_id=order.pk, actor="test")


def test_a_second_refund_for_an_order_is_impossible(account, canceled_order):
    before = _ledger_state(account)
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post(account_id=account.pk, amount=Decimal("5"), kind=LedgerKind.REFUND, order_id=canceled_order.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=LedgerKind.REFUND, amount=Decimal("1"), balance_after=Decimal("11"),
            order=canceled_order,
        )
    assert _ledger_state(account) == before


def test_a_second_charge_for_an_order_is_impossible(account, canceled_order):
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post(account_id=account.pk, amount=Decimal("-1"), kind=LedgerKind.CHARGE, order_id=canceled_order.pk)


@pytest.mark.postgres
def test_postgres_trigger_refuses_update_and_delete_of_ledger_rows(account):
    entry = LedgerEntry.objects.filter(account=account).get()
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1000"))
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_ledgerentry SET memo = 'edited'")
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_ledgerentry")
    assert LedgerEntry.objects.get(pk=entry.pk).amount == entry.amount
