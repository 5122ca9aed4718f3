"""Every money move made in the admin records the operator who made it: on the ledger entry
(`created_by`) and, for orders, on the order's event (`operator:<username>`). The money pages are
for staff only and keep Django's CSRF protection."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.admin import FUNDS_OPERATIONS, AccountAdmin
from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.admin import OrderAdmin, RefillAdmin
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import order_place, order_transition
from smmpanel.tests.admin_helpers import form_data, operator, run_action

pytestmark = pytest.mark.django_db
ORDERS = reverse("admin:orders_order_changelist")
# The admin's ways to move money. A new one must record its operator: add it to the test below.
MONEY_ACTIONS = {"cancel_and_refund", "mark_partial"}


def funds_url(account: Account, operation: str) -> str:
    return reverse("admin:accounts_account_funds", args=[account.pk, operation])


def place(account: Account, *, started: bool = False) -> Order:
    service = ServiceFactory(rate=Decimal("5"))
    order = order_place(account=account, fields={"service": str(service.pk), "link": f"@u{service.pk}",
                                                 "quantity": "1000"}, actor="api:alice")
    if started:
        order_transition(order_id=order.pk, new_status=OrderStatus.PROCESSING, reason="t", actor="worker")
        order_transition(order_id=order.pk, new_status=OrderStatus.IN_PROGRESS, reason="t", actor="worker",
                         remains=600)
    return order


def test_the_admins_ways_to_move_money_are_the_ones_tested_here():
    assert set(FUNDS_OPERATIONS) == {"add", "deduct", "adjust"}
    # These move no money (forwarding resolutions only record what the provider has).
    assert set(OrderAdmin.actions) - MONEY_ACTIONS == {"mark_completed", "resend", "forward_confirm", "forward_not_placed"}
    assert set(AccountAdmin.actions) == {"disable", "enable"} and set(RefillAdmin.actions) == {"mark_completed",
                                                                                              "reject"}


def test_every_admin_money_move_records_its_operator(client):
    root, fran, sam = operator("root", superuser=True), operator("fran", "Finance"), operator("sam", "Support")
    client.force_login(root)
    client.post(reverse("admin:accounts_account_add"), {"username": "alice", "opening_balance": "100"})
    alice = Account.objects.get(user__username="alice")

    client.force_login(fran)
    for operation, amount in (("add", "50"), ("deduct", "10"), ("adjust", "-5")):
        assert client.post(funds_url(alice, operation), {"amount": amount, "memo": "t"}).status_code == 302

    pending, started, partial = place(alice), place(alice, started=True), place(alice, started=True)
    client.force_login(sam)
    run_action(client, ORDERS, "cancel_and_refund", [pending.pk, started.pk])
    run_action(client, ORDERS, "mark_partial", [partial.pk], apply="Apply", delivered="100")

    by_operator = sorted(
        LedgerEntry.objects.exclude(kind=LedgerKind.CHARGE).values_list("created_by__username", "kind", "order_id")
    )
    assert by_operator == sorted([
        ("root", LedgerKind.DEPOSIT, None),
        ("fran", LedgerKind.DEPOSIT, None), ("fran", LedgerKind.ADJUSTMENT, None),
        ("fran", LedgerKind.ADJUSTMENT, None),
        ("sam", LedgerKind.REFUND, pending.pk), ("sam", LedgerKind.REFUND, started.pk),
        ("sam", LedgerKind.REFUND, partial.pk),
    ])
    # The API's charges are the reseller's own doing: no operator.
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE, created_by__isnull=False).exists()
    events = OrderEvent.objects.filter(order__in=[pending, started, partial], actor__startswith="operator:")
    assert sorted(events.values_list("order_id", "new_status", "actor")) == sorted([
        (pending.pk, OrderStatus.CANCELED, "operator:sam"),
        (started.pk, OrderStatus.PARTIAL, "operator:sam"),
        (partial.pk, OrderStatus.PARTIAL, "operator:sam"),
    ])


def test_a_non_staff_user_is_refused_the_money_pages_even_with_the_permission(client):
    alice = reseller_with_key("alice", "100")
    user = get_user_model().objects.create_user("eve", password="a-long-password-1")  # not staff
    user.user_permissions.add(Permission.objects.get(codename="move_money"),
                              Permission.objects.get(codename="change_order"))
    order = place(alice)
    before = list(LedgerEntry.objects.values_list("pk", flat=True))

    for who in (user, None):
        client.logout()
        if who:
            client.force_login(who)
        for response in (client.get(funds_url(alice, "add")),
                         client.post(funds_url(alice, "add"), {"amount": "1000", "memo": "me"}),
                         client.post(ORDERS, {"action": "cancel_and_refund", "_selected_action": [order.pk],
                                              "index": "0"})):
            assert response.status_code == 302 and response.url.startswith("/admin/login/")

    assert list(LedgerEntry.objects.values_list("pk", flat=True)) == before
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


def test_money_forms_and_actions_need_the_csrf_token():
    alice = reseller_with_key("alice", "100")
    order = place(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator("root", superuser=True))
    before = list(LedgerEntry.objects.values_list("pk", flat=True))

    assert browser.post(funds_url(alice, "add"), {"amount": "5", "memo": "forged"}).status_code == 403
    assert browser.post(ORDERS, {"action": "cancel_and_refund", "_selected_action": [order.pk],
                                 "index": "0"}).status_code == 403
    assert list(LedgerEntry.objects.values_list("pk", flat=True)) == before
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING

    data = form_data(browser.get(funds_url(alice, "add")).content.decode())
    data.update(amount=["5"], memo=["with the page's token"])
    assert browser.post(funds_url(alice, "add"), data).status_code == 302
    assert LedgerEntry.objects.latest("pk").memo == "with the page's token"
