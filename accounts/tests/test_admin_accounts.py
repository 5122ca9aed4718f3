"""The resellers' admin: a reseller and its key in one form, money moves with their operator and
memo, keys issued and revoked, accounts disabled — each by the right role, through accounts.services.
"""
from __future__ import annotations

import re
from decimal import Decimal
from importlib import import_module

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Account, ApiKey, LedgerEntry, LedgerKind
from accounts.services import apikey_authenticate
from accounts.tests.factories import reseller_with_key
from smmpanel.errors import InvalidApiKey
from smmpanel.money import format_amount
from smmpanel.tests.admin_helpers import ROLES, form_data, messages_of, operator, run_action

pytestmark = pytest.mark.django_db

ADD = reverse("admin:accounts_account_add")
ACCOUNTS = reverse("admin:accounts_account_changelist")
KEYS = reverse("admin:accounts_apikey_changelist")
LEDGER = reverse("admin:accounts_ledgerentry_changelist")
BUTTONS = ["Add funds", "Deduct funds", "Adjust", "Issue new API key"]


def funds_url(account: Account, operation: str) -> str:
    return reverse("admin:accounts_account_funds", args=[account.pk, operation])


def change_url(account: Account) -> str:
    return reverse("admin:accounts_account_change", args=[account.pk])


def new_key_url(account: Account) -> str:
    return reverse("admin:accounts_account_new_key", args=[account.pk])


def key_works(key: str) -> bool:
    try:
        apikey_authenticate(key=key)
    except InvalidApiKey:
        return False
    return True


def issued_key(html: str) -> str:
    return re.search(r'<code id="api-key"[^>]*>([^<]+)</code>', html).group(1)


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def ledger_rows() -> list[tuple]:
    return list(LedgerEntry.objects.order_by("pk").values_list("account_id", "kind", "amount", "memo", "created_by"))


@pytest.fixture
def superuser(db):
    return operator("root", superuser=True)


@pytest.fixture
def alice(db) -> Account:
    return reseller_with_key("alice", "100")


def test_the_roles_migration_creates_support_and_finance_with_their_permissions():
    log_roles = import_module("apilog.migrations.0002_roles_view_log").ROLES  # both may read the API log
    for name, codenames in ROLES.items():
        granted = Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename")
        assert sorted(granted) == sorted([*codenames, *log_roles[name]])


def test_reseller_form_shows_the_key_once_and_the_key_works(client, superuser):
    client.force_login(superuser)

    response = client.post(ADD, {"username": "bob", "opening_balance": "25.5"})

    assert response.status_code == 200
    key = issued_key(response.content.decode())
    account = Account.objects.get(user__username="bob")
    assert apikey_authenticate(key=key) == account
    assert balance(account) == Decimal("25.5")
    assert ledger_rows() == [(account.pk, LedgerKind.DEPOSIT, Decimal("25.5"), "Opening balance", superuser.pk)]
    # Stored as a digest: the reseller's page shows the prefix, never the key.
    page = client.get(change_url(account)).content.decode()
    assert key not in page and key[:8] in page


def test_reseller_form_refuses_an_existing_username(client, superuser, alice):
    client.force_login(superuser)
    before = (Account.objects.count(), ApiKey.objects.count(), ledger_rows())

    response = client.post(ADD, {"username": "alice", "opening_balance": "10"})

    assert response.status_code == 200
    assert "A user with this name exists." in response.content.decode()
    assert (Account.objects.count(), ApiKey.objects.count(), ledger_rows()) == before


@pytest.mark.parametrize(
    "operation, amount, kind, moved",
    [
        ("add", "12.345", LedgerKind.DEPOSIT, Decimal("12.345")),
        ("deduct", "30", LedgerKind.ADJUSTMENT, Decimal("-30")),
        ("adjust", "-0.00001", LedgerKind.ADJUSTMENT, Decimal("-0.00001")),
        ("adjust", "7", LedgerKind.ADJUSTMENT, Decimal("7")),
    ],
)
def test_each_money_move_writes_one_entry_with_its_operator_and_memo(client, superuser, alice, operation, amount,
                                                                      kind, moved):
    client.force_login(superuser)
    before = ledger_rows()

    response = client.post(funds_url(alice, operation), {"amount": amount, "memo": "ticket #42"})

    assert response.status_code == 302 and response.url == change_url(alice)
    assert ledger_rows() == [*before, (alice.pk, kind, moved, "ticket #42", superuser.pk)]
    assert balance(alice) == Decimal("100") + moved
    entry = LedgerEntry.objects.latest("pk")
    assert entry.balance_after == balance(alice)
    [shown] = messages_of(response)
    assert shown.endswith(f": {format_amount(moved)} — balance of alice is now {format_amount(balance(alice))}.")


@pytest.mark.parametrize("operation", ["add", "deduct", "adjust"])
@pytest.mark.parametrize("memo", ["", "   "])
def test_a_money_move_without_a_memo_is_refused(client, superuser, alice, operation, memo):
    client.force_login(superuser)
    before = ledger_rows()

    response = client.post(funds_url(alice, operation), {"amount": "5", "memo": memo})

    assert response.status_code == 200
    assert response.context["form"].errors == {"memo": ["This field is required."]}
    assert ledger_rows() == before and balance(alice) == Decimal("100")


@pytest.mark.parametrize("operation, amount", [("deduct", "100.00001"), ("adjust", "-150")])
def test_taking_more_than_the_balance_is_refused_and_writes_nothing(client, superuser, alice, operation, amount):
    client.force_login(superuser)
    before = ledger_rows()

    response = client.post(funds_url(alice, operation), {"amount": amount, "memo": "chargeback"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"amount": ["Insufficient balance"]}
    assert "Insufficient balance" in response.content.decode()
    assert ledger_rows() == before and balance(alice) == Decimal("100")


def test_deducting_the_whole_balance_is_allowed(client, superuser, alice):
    client.force_login(superuser)
    assert client.post(funds_url(alice, "deduct"), {"amount": "100", "memo": "closing"}).status_code == 302
    assert balance(alice) == 0


def test_an_unknown_operation_is_refused(client, superuser, alice):
    client.force_login(superuser)
    assert client.post(funds_url(alice, "steal"), {"amount": "5", "memo": "x"}).status_code == 403


def test_superuser_sees_every_button_on_a_resellers_page(client, superuser, alice):
    client.force_login(superuser)
    page = client.get(change_url(alice)).content.decode()
    assert all(button in page for button in BUTTONS)


def test_support_cannot_move_money_or_issue_keys_and_sees_no_buttons(client, alice):
    client.force_login(operator("sam", "Support"))
    before = (ledger_rows(), ApiKey.objects.count())

    for operation in ("add", "deduct", "adjust"):
        assert client.get(funds_url(alice, operation)).status_code == 403
        assert client.post(funds_url(alice, operation), {"amount": "5", "memo": "x"}).status_code == 403
    assert client.get(new_key_url(alice)).status_code == 403
    assert client.post(new_key_url(alice)).status_code == 403
    assert client.post(ADD, {"username": "mallory", "opening_balance": "5"}).status_code == 403

    page = client.get(change_url(alice))
    assert page.status_code == 200
    assert not any(button in page.content.decode() for button in BUTTONS)
    assert (ledger_rows(), ApiKey.objects.count()) == before


def test_finance_moves_money_but_issues_no_keys(client, alice):
    finance = operator("fran", "Finance")
    client.force_login(finance)

    page = client.get(change_url(alice)).content.decode()
    assert "Add funds" in page and "Issue new API key" not in page
    assert client.post(funds_url(alice, "add"), {"amount": "50", "memo": "wire 2026-11-30"}).status_code == 302
    assert ledger_rows()[-1] == (alice.pk, LedgerKind.DEPOSIT, Decimal("50"), "wire 2026-11-30", finance.pk)

    keys = ApiKey.objects.count()
    assert client.post(new_key_url(alice)).status_code == 403
    assert client.post(ADD, {"username": "mallory", "opening_balance": "5"}).status_code == 403
    assert ApiKey.objects.count() == keys
    # Revoking is key management too: Finance is not offered the action.
    assert client.get(KEYS).context["action_form"] is None
    client.post(KEYS, {"action": "revoke", "_selected_action": [alice.api_keys.get().pk], "index": "0"})
    assert key_works(alice.key)


def test_new_key_asks_before_issuing_and_the_new_key_works(client, superuser, alice):
    client.force_login(superuser)

    confirm = client.get(new_key_url(alice))
    assert confirm.status_code == 200 and ApiKey.objects.filter(account=alice).count() == 1

    response = client.post(new_key_url(alice))

    key = issued_key(response.content.decode())
    assert apikey_authenticate(key=key) == alice
    assert key_works(alice.key), "the old key keeps working until revoked"
    assert ApiKey.objects.get(prefix=key[:8]).label == "issued by root"


def test_revoke_action_stops_the_key_at_once_and_twice_is_safe(client, superuser, alice):
    client.force_login(superuser)
    api_key = ApiKey.objects.get(account=alice)

    assert run_action(client, KEYS, "revoke", [api_key.pk]) == ["Revoked 1 key(s)."]

    assert not key_works(alice.key)
    revoked_at = ApiKey.objects.get(pk=api_key.pk).revoked_at
    assert run_action(client, KEYS, "revoke", [api_key.pk]) == ["Revoked 0 key(s)."]
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == revoked_at


def test_disable_action_refuses_the_accounts_keys_and_enable_restores_them(client, superuser, alice):
    bob = reseller_with_key("bob", "5")
    client.force_login(superuser)

    assert run_action(client, ACCOUNTS, "disable", [alice.pk, bob.pk]) == ["Disabled 2 account(s)."]

    assert not key_works(alice.key) and not key_works(bob.key)
    assert run_action(client, ACCOUNTS, "disable", [alice.pk]) == ["Disabled 0 account(s)."]
    assert run_action(client, ACCOUNTS, "enable", [alice.pk]) == ["Enabled 1 account(s)."]
    assert key_works(alice.key) and not key_works(bob.key)


@pytest.mark.parametrize("role", ["Support", "Finance"])
def test_support_and_finance_are_offered_no_account_actions(client, alice, role):
    client.force_login(operator("sam", role))
    assert client.get(ACCOUNTS).context["action_form"] is None
    client.post(ACCOUNTS, {"action": "disable", "_selected_action": [alice.pk], "index": "0"})
    assert key_works(alice.key)


def test_the_balance_cannot_be_set_by_posting_the_change_form(client, superuser, alice):
    client.force_login(superuser)
    data = form_data(client.get(change_url(alice)).content.decode(), form_id="account_form")
    assert "is_active" in data
    data.pop("is_active")  # unticked: the one field an operator edits here
    data.update(balance=["999999"], balance_display=["999999"], user=[str(superuser.pk)])

    response = client.post(change_url(alice), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    alice.refresh_from_db()
    assert (alice.balance, alice.is_active, alice.user.username) == (Decimal("100"), False, "alice")
    assert ledger_rows() == [(alice.pk, LedgerKind.DEPOSIT, Decimal("100"), "Opening balance", None)]
    assert not key_works(alice.key)


def test_support_cannot_post_the_change_form(client, alice):
    client.force_login(operator("sam", "Support"))
    assert client.post(change_url(alice), {"is_active": ""}).status_code == 403
    assert Account.objects.get(pk=alice.pk).is_active


def test_nothing_can_be_deleted_from_the_panels_models():
    request = RequestFactory().get("/admin/")
    request.user = operator("root", superuser=True)
    ours = {"accounts", "catalog", "orders"}
    registered = [(model, model_admin) for model, model_admin in admin.site._registry.items()
                  if model._meta.app_label in ours]
    assert {Account, ApiKey, LedgerEntry} <= {model for model, _ in registered}
    for model, model_admin in registered:
        assert not model_admin.has_delete_permission(request), model
        assert "delete_selected" not in model_admin.get_actions(request), model


def test_the_delete_page_is_refused_even_to_a_superuser(client, superuser, alice):
    client.force_login(superuser)
    entry = LedgerEntry.objects.get(account=alice)
    for url in (
        reverse("admin:accounts_account_delete", args=[alice.pk]),
        reverse("admin:accounts_apikey_delete", args=[alice.api_keys.get().pk]),
        reverse("admin:accounts_ledgerentry_delete", args=[entry.pk]),
    ):
        assert client.post(url, {"post": "yes"}).status_code == 403, url
    assert Account.objects.filter(pk=alice.pk).exists() and LedgerEntry.objects.filter(pk=entry.pk).exists()


def totals(response) -> tuple[list[tuple], str]:
    rows = sorted((row["kind"], row["count"], row["total"]) for row in response.context["ledger_totals"])
    return rows, response.context["ledger_sum"]


def test_ledger_list_shows_the_totals_of_the_filtered_selection(client, superuser, alice):
    bob = reseller_with_key("bob", "40")
    client.force_login(superuser)
    client.post(funds_url(alice, "add"), {"amount": "10.5", "memo": "wire"})
    client.post(funds_url(alice, "deduct"), {"amount": "0.25", "memo": "fee"})
    client.post(funds_url(bob, "adjust"), {"amount": "-1", "memo": "fix"})

    everything = client.get(LEDGER, {"o": "1"})  # sorted by id: one page, 5 rows
    assert totals(everything) == ([("adjustment", 2, "-1.25"), ("deposit", 3, "150.50")], "149.25")
    assert 'id="ledger-totals"' in everything.content.decode()

    assert totals(client.get(LEDGER, {"account__id__exact": alice.pk})) == (
        [("adjustment", 1, "-0.25"), ("deposit", 2, "110.50")], "110.25"
    )
    assert totals(client.get(LEDGER, {"kind__exact": "adjustment"})) == ([("adjustment", 2, "-1.25")], "-1.25")
    assert totals(client.get(LEDGER, {"created_by__id__exact": superuser.pk, "q": "fix"})) == (
        [("adjustment", 1, "-1.00")], "-1.00"
    )
