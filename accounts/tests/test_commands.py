"""The operator commands: create_reseller, add_funds, seed_demo and demo_access.

Driven through `call_command` (the test database) and, once, from a shell as a real subprocess
against a throwaway SQLite database, to prove the command line works end to end.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory
from django.core.management import CommandError, call_command

from accounts.models import Account, ApiKey, LedgerEntry
from accounts.services import apikey_authenticate, apikey_issue
from accounts.tests.factories import reseller_with_key
from catalog.models import Category, Service
from catalog.service_types import ServiceType
from orders.services import order_place
from smmpanel.errors import InvalidApiKey

pytestmark = pytest.mark.django_db

BAD_AMOUNTS = ["abc", "-5", "NaN", "Infinity", "-0.01", "", "1e400", "100000000000"]


def run(*args: str) -> list[str]:
    """Run a command; its output lines."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def snapshot() -> dict[str, int]:
    """Row counts of everything the commands may write."""
    return {
        "users": get_user_model().objects.count(),
        "accounts": Account.objects.count(),
        "keys": ApiKey.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "categories": Category.objects.count(),
        "services": Service.objects.count(),
    }


def key_works(key: str) -> bool:
    try:
        apikey_authenticate(key=key)
    except InvalidApiKey:
        return False
    return True


# --- create_reseller ---------------------------------------------------------------------------


def test_create_reseller_prints_a_working_key_last_and_deposits_the_balance():
    lines = run("create_reseller", "bob", "--balance", "12.50")

    key = lines[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key), lines
    account = apikey_authenticate(key=key)
    assert account.user.username == "bob"
    assert account.balance == Decimal("12.5")
    deposit = LedgerEntry.objects.get(account=account)
    assert (deposit.kind, deposit.amount, deposit.balance_after) == ("deposit", Decimal("12.5"), Decimal("12.5"))
    assert ApiKey.objects.filter(account=account).count() == 1
    assert "12.50" in lines[0]


def test_create_reseller_without_balance_has_no_ledger_rows():
    key = run("create_reseller", "carol")[-1]
    account = apikey_authenticate(key=key)
    assert account.balance == 0
    assert not LedgerEntry.objects.filter(account=account).exists()


def test_create_reseller_refuses_an_existing_user_and_writes_nothing():
    reseller_with_key("bob", "5")
    before = snapshot()
    with pytest.raises(CommandError, match="already exists"):
        run("create_reseller", "bob", "--balance", "10")
    assert snapshot() == before
    assert Account.objects.get(user__username="bob").balance == Decimal("5")


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_create_reseller_refuses_bad_amounts_and_writes_nothing(amount):
    before = snapshot()
    with pytest.raises(CommandError):
        run("create_reseller", "bob", "--balance", amount)
    assert snapshot() == before


@pytest.mark.parametrize("username", ["", "   ", "has space", "x" * 151])
def test_create_reseller_refuses_bad_usernames_and_writes_nothing(username):
    before = snapshot()
    with pytest.raises(CommandError):
        run("create_reseller", username)
    assert snapshot() == before


# --- add_funds ---------------------------------------------------------------------------------


def test_add_funds_writes_a_deposit_with_the_memo():
    account = reseller_with_key("bob", "10")
    lines = run("add_funds", "bob", "50.25", "--memo", "bank transfer 2026-11-26")

    account.refresh_from_db()
    assert account.balance == Decimal("60.25")
    entry = LedgerEntry.objects.filter(account=account).order_by("id").last()
    assert (entry.kind, entry.amount, entry.balance_after, entry.memo) == (
        "deposit", Decimal("50.25"), Decimal("60.25"), "bank transfer 2026-11-26",
    )
    assert "60.25" in lines[-1]


def test_add_funds_without_memo_still_says_where_the_money_came_from():
    account = reseller_with_key("bob", "0")
    run("add_funds", "bob", "7")
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.amount) == ("deposit", Decimal("7"))
    assert entry.memo


def test_add_funds_refuses_an_unknown_user_and_writes_nothing():
    reseller_with_key("bob", "10")
    get_user_model().objects.create_user("operator")  # a user without an account is no reseller
    before = snapshot()
    for username in ("nobody", "operator"):
        with pytest.raises(CommandError, match="No reseller"):
            run("add_funds", username, "5")
    assert snapshot() == before


@pytest.mark.parametrize("amount", ["0", "0.00", "0.000001", *BAD_AMOUNTS])
def test_add_funds_refuses_zero_negative_and_bad_amounts_and_writes_nothing(amount):
    account = reseller_with_key("bob", "10")
    before = snapshot()
    with pytest.raises(CommandError):
        run("add_funds", "bob", amount)
    assert snapshot() == before
    account.refresh_from_db()
    assert account.balance == Decimal("10")


# --- seed_demo ---------------------------------------------------------------------------------


def test_seed_demo_loads_a_varied_catalog_and_a_funded_reseller_once():
    run("seed_demo")
    seeded = snapshot()
    services = list(Service.objects.select_related("category"))

    assert seeded["categories"] >= 3
    assert len({category.platform for category in Category.objects.all()}) >= 3
    assert {service.type for service in services} == set(ServiceType.values)
    defaults = [service for service in services if service.type == ServiceType.DEFAULT]
    assert len({service.speed_per_minute for service in defaults}) >= 3
    assert any(service.start_delay_seconds >= 120 for service in defaults)
    assert any(service.start_delay_seconds == 0 for service in defaults)
    assert all(service.cancel and service.is_active for service in services)
    assert any(service.refill for service in services) and any(service.dripfeed for service in services)
    for service in services:
        assert 1 <= service.min_quantity <= service.max_quantity
        assert service.rate > 0

    demo = Account.objects.get(user__username="demo")
    assert demo.balance > 0
    assert list(LedgerEntry.objects.filter(account=demo).values_list("kind", "amount")) == [("deposit", demo.balance)]

    lines = run("seed_demo")
    assert snapshot() == seeded
    assert "unchanged" in " ".join(lines)
    demo.refresh_from_db()
    assert LedgerEntry.objects.filter(account=demo).count() == 1


def test_seed_demo_every_service_takes_an_order_at_its_minimum():
    """The catalog is usable as loaded: each service accepts its type's fields within its bounds."""
    run("seed_demo")
    demo = Account.objects.get(user__username="demo")
    examples = {
        "comments": lambda n: "\n".join(f"nice {i}" for i in range(n)),
        "usernames": lambda n: "\n".join(f"user{i}" for i in range(n)),
        "hashtags": lambda n: "#one\n#two",
        "keywords": lambda n: "smm panel\nbuy followers",
        "hashtag": lambda n: "#smm",
        "username": lambda n: "someone",
        "media": lambda n: "https://instagram.com/p/abc",
        "answer_number": lambda n: "1",
    }
    for number, service in enumerate(Service.objects.all()):
        fields = {"service": str(service.pk), "link": f"https://example.com/{number}", "quantity": str(service.min_quantity)}
        for name in service.spec.fields:
            fields[name] = examples[name](service.min_quantity)
        order = order_place(account=demo, fields=fields, actor="test")
        assert order.status == "Pending", service


def test_seed_demo_leaves_an_operators_own_catalog_alone():
    """A database with the operator's categories (and no services yet) is not a fresh one."""
    Category.objects.create(name="YouTube", platform="youtube")
    run("seed_demo")
    assert list(Category.objects.values_list("name", flat=True)) == ["YouTube"]
    assert not Service.objects.exists()
    assert Account.objects.filter(user__username="demo").exists()


# --- demo_access -------------------------------------------------------------------------------


def _demo_access(*args: str) -> tuple[str, str, list[str]]:
    """Run demo_access; the printed key (last line) and admin password."""
    lines = run("demo_access", *args)
    key = lines[-1].split()[-1]
    password = re.search(r"password (\S+)", "\n".join(lines)).group(1)
    return key, password, lines


def test_demo_access_rotates_the_demo_key_and_the_admin_password():
    run("seed_demo")
    demo = Account.objects.get(user__username="demo")
    _, old_key = apikey_issue(account=demo, label="from before")
    assert key_works(old_key)

    key, password, lines = _demo_access("--base-url", "http://panel.test:9000/")
    assert lines[-1] == f"API key: {key}"
    assert "http://panel.test:9000/api/v2" in lines[0]
    assert "http://panel.test:9000/admin/" in lines[1]
    assert apikey_authenticate(key=key).pk == demo.pk
    assert not key_works(old_key)
    assert list(ApiKey.objects.filter(account=demo, revoked_at__isnull=True).values_list("prefix", flat=True)) == [key[:8]]
    admin = authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password)
    assert admin is not None and admin.is_superuser and admin.is_staff

    key2, password2, _ = _demo_access()
    assert (key2, password2) != (key, password) and key2 != key and password2 != password
    assert key_works(key2)
    assert not key_works(key)
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password) is None
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password2).pk == admin.pk
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert Account.objects.get(pk=demo.pk).balance == demo.balance  # money is not touched


def test_demo_access_resets_an_existing_admins_password():
    get_user_model().objects.create_superuser("admin", email="", password="old-password-123")
    run("seed_demo")
    _, password, _ = _demo_access()
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password="old-password-123") is None
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password) is not None


def test_demo_access_needs_the_demo_reseller():
    with pytest.raises(CommandError, match="seed_demo"):
        run("demo_access")
    assert not get_user_model().objects.filter(username="admin").exists()


# --- from a shell ------------------------------------------------------------------------------


def test_commands_from_a_shell_against_a_fresh_sqlite_database(tmp_path: Path):
    """manage.py as an operator types it: exit codes, last-line key, clean refusals."""
    db = tmp_path / "panel.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
        "DATABASE_URL": f"sqlite:///{db}",
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "subprocess-test-key",
        "DEBUG": "0",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
            capture_output=True, text=True, timeout=120,
        )

    migrated = manage("migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr

    created = manage("create_reseller", "dave", "--balance", "12.5")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key), created.stdout

    again = manage("create_reseller", "dave")
    assert again.returncode != 0
    assert "already exists" in again.stderr and "Traceback" not in again.stderr

    bad = manage("create_reseller", "erin", "--balance", "abc")
    assert bad.returncode != 0
    assert "abc" in bad.stderr and "Traceback" not in bad.stderr

    funded = manage("add_funds", "dave", "7.5", "--memo", "wire")
    assert funded.returncode == 0, funded.stderr

    with sqlite3.connect(db) as conn:
        digest = hashlib.sha256(key.encode()).hexdigest()
        (account_id, balance), = conn.execute(
            "SELECT a.id, a.balance FROM accounts_account a JOIN auth_user u ON u.id = a.user_id "
            "WHERE u.username = 'dave'"
        ).fetchall()
        assert Decimal(str(balance)) == Decimal("20")
        assert conn.execute(
            "SELECT account_id FROM accounts_apikey WHERE digest = ? AND revoked_at IS NULL", (digest,)
        ).fetchall() == [(account_id,)]
        ledger = conn.execute(
            "SELECT kind, memo FROM accounts_ledgerentry WHERE account_id = ? ORDER BY id", (account_id,)
        ).fetchall()
        assert ledger == [("deposit", "Opening balance"), ("deposit", "wire")]
        assert conn.execute("SELECT count(*) FROM auth_user WHERE username = 'erin'").fetchone() == (0,)
