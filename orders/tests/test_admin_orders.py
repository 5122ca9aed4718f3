"""The orders' admin actions: each runs order by order through orders.services, over hundreds of
orders in mixed states, and reports what it did and what it refused; money moves once.
"""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import F, Q, Sum
from django.urls import reverse

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders.models import HoldReason, Order, OrderEvent, OrderStatus
from orders.services import (
    order_cancel,
    order_hold,
    order_place,
    order_transition,
    orders_move,
)
from smmpanel.tests.admin_helpers import form_data, messages_of, operator, run_action

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
S = OrderStatus
QUANTITY = 100  # at rate 5: a charge of 0.50 per order
# The mix every bulk test runs on: 300 orders. "Pending (hold)" are parked Pending orders.
MIX = {"Pending": 60, "Pending (hold)": 20, "Processing": 50, "In progress": 50, "Completed": 40, "Partial": 40,
       "Canceled": 40}


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("alice", "1000")


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("5"))


@pytest.fixture
def root(db):
    return operator("root", superuser=True)


def place(account: Account, service: Service, *, quantity: int = QUANTITY, link: str | None = None) -> Order:
    link = link or f"https://instagram.com/user{Order.objects.count()}"
    fields = {"service": str(service.pk), "link": link, "quantity": str(quantity)}
    return order_place(account=account, fields=fields, actor="api:alice")


def order_in(state: str, account: Account, service: Service, *, quantity: int = QUANTITY,
             delivered: int = 30) -> Order:
    """An order brought to `state` the way the API and the worker would."""
    order = place(account, service, quantity=quantity)

    def move(status: str, remains: int | None = None) -> None:
        order_transition(order_id=order.pk, new_status=status, reason="test", actor="worker", remains=remains)

    if state == "Pending (hold)":
        order_hold(order_id=order.pk, hold_reason=HoldReason.PARKED, reason="test", actor="worker")
    elif state == "Canceled":
        order_cancel(account=account, order_id=order.pk, actor="api:alice")
    elif state != "Pending":
        move(S.PROCESSING)
        if state in ("In progress", "Partial"):
            move(S.IN_PROGRESS, remains=quantity - delivered)
        if state in ("Completed", "Partial"):
            move(state)
    order.refresh_from_db()
    return order


@pytest.fixture
def mix(account, service) -> dict[str, list[int]]:
    """300 orders placed through the API's service, moved on in bulk the way the worker moves them."""
    placed = iter([place(account, service).pk for _ in range(sum(MIX.values()))])
    mix = {state: [next(placed) for _ in range(count)] for state, count in MIX.items()}

    def move(states: list[str], old: str, new: str, **changes) -> None:
        ids = [pk for state in states for pk in mix[state]]
        assert len(orders_move(order_ids=ids, old_status=old, new_status=new, reason="test", actor="worker",
                               changes=changes)) == len(ids)

    started = ["In progress", "Completed", "Partial"]
    move(["Processing", *started], S.PENDING, S.PROCESSING)
    move(["In progress", "Partial"], S.PROCESSING, S.IN_PROGRESS, remains=QUANTITY - 30)
    move(["Completed"], S.PROCESSING, S.COMPLETED)
    move(["Partial"], S.IN_PROGRESS, S.PARTIAL)
    move(["Canceled"], S.PENDING, S.CANCELED)
    for pk in mix["Pending (hold)"]:
        order_hold(order_id=pk, hold_reason=HoldReason.PARKED, reason="test", actor="worker")
    return mix


def statuses() -> Counter:
    return Counter(Order.objects.values_list("status", flat=True))


def money() -> tuple:
    """Everything about money: each order's refunds, every balance, the ledger's size."""
    refunds = Counter(LedgerEntry.objects.filter(kind=LedgerKind.REFUND).values_list("order_id", flat=True))
    return refunds, dict(Account.objects.values_list("pk", "balance")), LedgerEntry.objects.count()


def assert_ledger_consistent() -> None:
    for account in Account.objects.all():
        entries = LedgerEntry.objects.filter(account=account)
        assert account.balance == sum(entries.values_list("amount", flat=True))
    refunded = Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerKind.REFUND))
    assert not Order.objects.annotate(refunded=refunded).filter(refunded__gt=F("charge")).exists()


def every(mix: dict[str, list[int]]) -> list[int]:
    return [pk for pks in mix.values() for pk in pks]


def test_cancel_and_refund_over_300_mixed_orders(client, root, mix, account):
    client.force_login(root)
    balance_before = Account.objects.get(pk=account.pk).balance

    shown = run_action(client, ORDERS, "cancel_and_refund", every(mix))

    assert shown == [
        "Canceled and refunded: 180 order(s), now Canceled 130, Partial 50.",
        "Refused 120 order(s): Order cannot be canceled",
    ]
    assert statuses() == {S.CANCELED: 40 + 130, S.PARTIAL: 40 + 50, S.COMPLETED: 40}
    # 130 whole charges of 0.50 back, and 70 % of each started order's 0.50.
    refunded = Account.objects.get(pk=account.pk).balance - balance_before
    assert refunded == 130 * Decimal("0.5") + 50 * Decimal("0.35")
    assert not Order.objects.filter(pk__in=mix["Pending (hold)"]).exclude(hold_reason="").exists()
    operator_refunds = LedgerEntry.objects.filter(kind=LedgerKind.REFUND, created_by=root)
    assert operator_refunds.count() == 180
    assert OrderEvent.objects.filter(actor="operator:root", reason="canceled by operator").count() == 180
    assert_ledger_consistent()


def test_mark_completed_over_300_mixed_orders(client, root, mix):
    client.force_login(root)

    shown = run_action(client, ORDERS, "mark_completed", every(mix))

    assert shown == [
        "Marked completed: 100 order(s), now Completed 100.",
        "Refused 80 order(s): Order cannot move from Pending to Completed",
        "Refused 40 order(s): Order cannot move from Completed to Completed",
        "Refused 40 order(s): Order cannot move from Partial to Completed",
        "Refused 40 order(s): Order cannot move from Canceled to Completed",
    ]
    assert statuses() == {S.PENDING: 80, S.COMPLETED: 140, S.PARTIAL: 40, S.CANCELED: 40}
    assert not Order.objects.filter(status=S.COMPLETED).exclude(remains=0).exists()
    assert_ledger_consistent()


def test_resend_over_300_mixed_orders(client, root, mix, django_capture_on_commit_callbacks):
    Order.objects.filter(pk__in=mix["Pending (hold)"]).update(attempts=4)
    Order.objects.filter(pk__in=mix["Processing"][:10]).update(hold_reason=HoldReason.NEEDS_CHECKING, attempts=2)
    client.force_login(root)
    events = OrderEvent.objects.count()

    with django_capture_on_commit_callbacks() as wakeups:
        shown = run_action(client, ORDERS, "resend", every(mix))

    assert shown == [
        "Resent: 130 order(s), now Pending 80, Processing 50.",
        "Refused 50 order(s): Only Pending or Processing orders can be resent, not In progress",
        "Refused 40 order(s): Only Pending or Processing orders can be resent, not Completed",
        "Refused 40 order(s): Only Pending or Processing orders can be resent, not Partial",
        "Refused 40 order(s): Only Pending or Processing orders can be resent, not Canceled",
    ]
    assert not Order.objects.exclude(hold_reason="").exists()
    assert not Order.objects.filter(attempts__gt=0).exists()
    assert OrderEvent.objects.count() == events + 130
    assert OrderEvent.objects.filter(reason="resent (hold parked cleared)", actor="operator:root").count() == 20
    assert len(wakeups) == 80  # the Pending ones go back in the queue at once


def test_mark_partial_asks_the_delivered_units_then_refunds_the_rest(client, root, mix, account):
    client.force_login(root)
    selected = every(mix)
    before = money()

    form_page = client.post(ORDERS, {"action": "mark_partial", "_selected_action": selected, "index": "0"})

    assert form_page.status_code == 200
    assert "delivered" in form_page.context["form"].fields
    assert "300 selected" in form_page.content.decode()
    assert money() == before and statuses()[S.PARTIAL] == 40

    refused_form = client.post(ORDERS, {"action": "mark_partial", "_selected_action": selected, "apply": "Apply",
                                        "delivered": "-1"})
    assert refused_form.status_code == 200 and refused_form.context["form"].errors
    assert money() == before

    done = client.post(ORDERS, {"action": "mark_partial", "_selected_action": selected, "apply": "Apply",
                                "delivered": "40"}, follow=True)

    assert messages_of(done) == [
        "Marked partial: 100 order(s), now Partial 100.",
        "Refused 80 order(s): Order cannot move from Pending to Partial",
        "Refused 40 order(s): Order cannot move from Completed to Partial",
        "Refused 40 order(s): Order cannot move from Partial to Partial",
        "Refused 40 order(s): Order cannot move from Canceled to Partial",
    ]
    newly_partial = Order.objects.filter(pk__in=mix["Processing"] + mix["In progress"])
    assert set(newly_partial.values_list("status", "remains")) == {(S.PARTIAL, 60)}
    refunds = LedgerEntry.objects.filter(order__in=newly_partial, kind=LedgerKind.REFUND)
    assert set(refunds.values_list("amount", "created_by")) == {(Decimal("0.3"), root.pk)}
    assert refunds.count() == 100
    assert_ledger_consistent()


def test_mark_partial_refuses_delivered_beyond_the_quantity(client, root, account, service):
    order = order_in("In progress", account, service)
    client.force_login(root)

    shown = run_action(client, ORDERS, "mark_partial", [order.pk], apply="Apply", delivered=str(QUANTITY))

    assert shown == ["Marked partial: 0 order(s).",
                     f"Refused 1 order(s): Delivered must be between 0 and {QUANTITY - 1} for a partial order"]
    order.refresh_from_db()
    assert order.status == S.IN_PROGRESS and not order.ledger_entries.filter(kind=LedgerKind.REFUND).exists()


def test_cancel_of_an_order_in_progress_ends_it_partial_with_the_undelivered_part_refunded(client, root, account,
                                                                                            service):
    order = order_in("In progress", account, service, quantity=1000, delivered=300)
    client.force_login(root)
    balance_before = Account.objects.get(pk=account.pk).balance

    assert run_action(client, ORDERS, "cancel_and_refund", [order.pk]) == [
        "Canceled and refunded: 1 order(s), now Partial 1."
    ]

    order.refresh_from_db()
    assert (order.status, order.remains) == (S.PARTIAL, 700)
    refund = order.ledger_entries.get(kind=LedgerKind.REFUND)
    assert (refund.amount, refund.created_by) == (Decimal("3.5"), root)
    assert Account.objects.get(pk=account.pk).balance == balance_before + Decimal("3.5")
    event = order.events.last()
    assert (event.old_status, event.new_status, event.actor) == (S.IN_PROGRESS, S.PARTIAL, "operator:root")


@pytest.mark.parametrize("action, fields", [
    ("cancel_and_refund", {}),
    ("mark_partial", {"apply": "Apply", "delivered": "10"}),
    ("mark_completed", {}),
])
def test_running_an_action_twice_moves_each_order_and_its_money_once(client, root, mix, action, fields):
    client.force_login(root)
    run_action(client, ORDERS, action, every(mix), **fields)
    after_first = (statuses(), money(), OrderEvent.objects.count())

    shown = run_action(client, ORDERS, action, every(mix), **fields)

    assert shown[0].endswith(": 0 order(s).")
    assert sum(int(line.split()[1]) for line in shown[1:]) == 300
    assert (statuses(), money(), OrderEvent.objects.count()) == after_first
    refunds_per_order = money()[0]
    assert max(refunds_per_order.values()) == 1
    assert_ledger_consistent()


def test_an_action_on_all_rows_across_pages_follows_the_filter(client, root, mix):
    client.force_login(root)
    assert len(client.get(ORDERS).context["cl"].result_list) == 100

    shown = run_action(client, ORDERS + "?status__exact=Pending", "cancel_and_refund", every(mix)[:1],
                       select_across="1")

    assert shown == ["Canceled and refunded: 80 order(s), now Canceled 80."]
    assert statuses()[S.PENDING] == 0 and statuses()[S.PROCESSING] == 50


def test_mark_partial_on_all_rows_across_pages_through_the_form(client, root, mix):
    client.force_login(root)
    url = ORDERS + "?status__exact=In+progress"
    form_page = client.post(url, {"action": "mark_partial", "_selected_action": mix["In progress"][:1],
                                  "select_across": "1", "index": "0"})
    assert "50 selected" in form_page.content.decode()
    data = form_data(form_page.content.decode())
    data.update(delivered=["90"], apply=["Apply"])

    response = client.post(url, data, follow=True)

    assert messages_of(response) == ["Marked partial: 50 order(s), now Partial 50."]
    assert set(Order.objects.filter(pk__in=mix["In progress"]).values_list("status", "remains")) == {(S.PARTIAL, 10)}
    assert statuses()[S.PROCESSING] == 50


def test_support_may_run_order_actions(client, account, service):
    order = order_in("Pending", account, service)
    client.force_login(operator("sam", "Support"))

    assert run_action(client, ORDERS, "cancel_and_refund", [order.pk]) == [
        "Canceled and refunded: 1 order(s), now Canceled 1."
    ]
    order.refresh_from_db()
    assert order.status == S.CANCELED and order.ledger_entries.filter(kind=LedgerKind.REFUND).count() == 1


def test_finance_sees_orders_but_runs_no_order_action(client, account, service):
    order = order_in("Pending", account, service)
    client.force_login(operator("fran", "Finance"))

    page = client.get(ORDERS)

    assert page.status_code == 200 and page.context["action_form"] is None
    client.post(ORDERS, {"action": "cancel_and_refund", "_selected_action": [order.pk], "index": "0"})
    assert Order.objects.get(pk=order.pk).status == S.PENDING


def test_the_order_page_shows_its_history_and_its_money_and_edits_nothing(client, root, account, service):
    order = order_in("In progress", account, service, quantity=1000, delivered=300)
    client.force_login(root)
    run_action(client, ORDERS, "cancel_and_refund", [order.pk])
    url = reverse("admin:orders_order_change", args=[order.pk])

    page = client.get(url)

    html = page.content.decode()
    assert page.status_code == 200
    history = [
        (event.old_status, event.new_status, event.reason, event.actor)
        for event in page.context["inline_admin_formsets"][0].formset.queryset
    ]
    assert history == [
        ("", S.PENDING, "placed", "api:alice"),
        (S.PENDING, S.PROCESSING, "test", "worker"),
        (S.PROCESSING, S.IN_PROGRESS, "test", "worker"),
        (S.IN_PROGRESS, S.PARTIAL, "canceled by operator", "operator:root"),
    ]
    assert "canceled by operator" in html and "operator:root" in html
    ledger = [(entry.kind, entry.amount) for entry in page.context["inline_admin_formsets"][1].formset.queryset]
    assert sorted(ledger) == [(LedgerKind.CHARGE, Decimal("-5")), (LedgerKind.REFUND, Decimal("3.5"))]
    assert "-5.00000" in html and "3.50000" in html
    # Read-only: a POST of the page is refused, and there is nothing to add or delete.
    assert client.post(url, {"status": S.COMPLETED, "remains": "0"}).status_code == 403
    assert client.get(reverse("admin:orders_order_add")).status_code == 403
    assert client.post(reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == S.PARTIAL


def test_orders_list_is_searchable_by_ids_reseller_and_link(client, root, account, service):
    orders = [place(account, service, link=f"https://instagram.com/{name}") for name in ("ann", "bea", "cid")]
    # A link holding another order's id must not turn up when an operator searches for that id.
    decoy = place(account, service, link=f"https://instagram.com/p/{orders[1].pk}{orders[1].pk}")
    other = place(reseller_with_key("bob", "100"), service, link="https://instagram.com/dan")
    client.force_login(root)

    def found(term: str) -> list[int]:
        return sorted(order.pk for order in client.get(ORDERS, {"q": term}).context["cl"].result_list)

    assert found(str(orders[1].pk)) == [orders[1].pk]
    assert found(f"#{orders[0].pk}, {orders[2].pk} {decoy.pk}") == sorted([orders[0].pk, orders[2].pk, decoy.pk])
    assert found("instagram.com/cid") == [orders[2].pk]
    assert found("bob") == [other.pk]
    assert found("not-a-number") == []
    assert found("9" * 40) == []  # too long for an id: searched as text, no database overflow
