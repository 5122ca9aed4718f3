"""API keys: URL-safe, stored only as a digest, refused at once when revoked or disabled."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import Account, ApiKey, LedgerKind
from accounts.selectors import account_balance
from accounts.services import (
    apikey_authenticate,
    apikey_issue,
    apikey_revoke,
    ledger_post,
    reseller_create,
)
from accounts.tests.factories import reseller_with_key
from smmpanel.errors import InvalidApiKey

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def account(db):
    return reseller_with_key("alice", "10")


@pytest.fixture
def clock(monkeypatch):
    """A settable `timezone.now` as accounts.services sees it, so no test sleeps."""

    class Clock:
        now = T0

        def advance(self, **delta) -> datetime:
            self.now += timedelta(**delta)
            return self.now

    fake = Clock()
    monkeypatch.setattr(services.timezone, "now", lambda: fake.now)
    return fake


def test_issued_keys_are_url_safe_and_distinct(account):
    keys = [account.key] + [apikey_issue(account=account)[1] for _ in range(50)]
    for key in keys:
        assert URL_SAFE.fullmatch(key), key
        assert len(key) >= 40
    assert len(set(keys)) == len(keys)


def test_key_is_stored_only_as_digest_and_prefix(account):
    api_key, key = apikey_issue(account=account, label="bot")
    api_key.refresh_from_db()
    assert api_key.digest == hashlib.sha256(key.encode()).hexdigest()
    assert api_key.prefix == key[:8] and len(api_key.prefix) == 8
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(key in value for value in stored)
    assert not any(account.key in value for value in stored)


def test_authenticate_returns_the_keys_account(account):
    assert apikey_authenticate(key=account.key) == account
    other, other_key = reseller_create(username="bob")
    assert apikey_authenticate(key=other_key) == other


@pytest.mark.parametrize("key", [None, "", "nope", "x" * 129])
def test_unknown_missing_or_oversized_key_is_refused(account, key):
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=key)


def test_key_with_only_the_right_prefix_is_refused(account):
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=account.key[:8] + "A" * 35)


def test_revoked_key_is_refused_at_once_and_other_keys_keep_working(account, clock):
    api_key, key = apikey_issue(account=account)
    assert apikey_authenticate(key=key) == account
    apikey_revoke(api_key=api_key)
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=key)
    assert apikey_authenticate(key=account.key) == account


def test_revoking_twice_keeps_the_first_revocation_time(account, clock):
    api_key, _ = apikey_issue(account=account)
    apikey_revoke(api_key=api_key)
    clock.advance(hours=1)
    apikey_revoke(api_key=api_key)
    api_key.refresh_from_db()
    assert api_key.revoked_at == T0


def test_disabled_account_is_refused(account):
    account.is_active = False
    account.save(update_fields=["is_active"])
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=account.key)


def test_inactive_user_is_refused(account):
    account.user.is_active = False
    account.user.save(update_fields=["is_active"])
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=account.key)


def _last_used(key: str):
    return ApiKey.objects.get(digest=hashlib.sha256(key.encode()).hexdigest()).last_used_at


def test_last_used_at_is_set_on_first_use(account, clock):
    assert _last_used(account.key) is None
    apikey_authenticate(key=account.key)
    assert _last_used(account.key) == T0


def test_last_used_at_is_written_at_most_once_a_minute(account, clock):
    apikey_authenticate(key=account.key)
    clock.advance(seconds=30)
    apikey_authenticate(key=account.key)
    clock.advance(seconds=29)
    apikey_authenticate(key=account.key)
    assert _last_used(account.key) == T0

    later = clock.advance(seconds=2)  # 61 s after the recorded use
    apikey_authenticate(key=account.key)
    assert _last_used(account.key) == later


def test_last_used_at_does_not_move_back(account, clock):
    apikey_authenticate(key=account.key)
    clock.now = T0 - timedelta(minutes=5)  # a request whose clock lags behind
    apikey_authenticate(key=account.key)
    assert _last_used(account.key) == T0


def test_failed_authentication_records_no_use(account, clock):
    account.is_active = False
    account.save(update_fields=["is_active"])
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(key=account.key)
    assert _last_used(account.key) is None


def test_revoked_key_is_refused_over_http(api, reseller):
    assert api("balance") == {"balance": "100.00", "currency": "TRY"}
    apikey_revoke(api_key=reseller.api_keys.get())
    assert api("balance") == {"error": "Invalid API key"}


def _last_use(key: str) -> tuple:
    return ApiKey.objects.values_list("last_used_at", "last_used_ip").get(digest=hashlib.sha256(key.encode()).hexdigest())


def _updates(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return sum(query["sql"].startswith("UPDATE") for query in queries.captured_queries)


def test_last_use_records_the_address_with_the_time(account, clock):
    apikey_authenticate(key=account.key, client_ip="203.0.113.9")
    assert _last_use(account.key) == (T0, "203.0.113.9")


def test_the_same_address_within_a_minute_writes_nothing(account, clock):
    apikey_authenticate(key=account.key, client_ip="2001:db8::5")
    clock.advance(seconds=59)
    assert _updates(lambda: apikey_authenticate(key=account.key, client_ip="2001:db8::5")) == 0
    assert _last_use(account.key) == (T0, "2001:db8::5")


def test_a_new_address_is_written_at_once_in_the_same_update(account, clock):
    apikey_authenticate(key=account.key, client_ip="203.0.113.9")
    later = clock.advance(seconds=5)
    assert _updates(lambda: apikey_authenticate(key=account.key, client_ip="198.51.100.7")) == 1
    assert _last_use(account.key) == (later, "198.51.100.7")
    clock.advance(seconds=5)
    assert _updates(lambda: apikey_authenticate(key=account.key, client_ip="198.51.100.7")) == 0


def test_a_lagging_clock_with_a_new_address_does_not_move_the_time_back(account, clock):
    apikey_authenticate(key=account.key, client_ip="203.0.113.9")
    clock.now = T0 - timedelta(seconds=10)
    apikey_authenticate(key=account.key, client_ip="198.51.100.7")
    assert _last_use(account.key) == (T0, "203.0.113.9")


def test_an_unreadable_address_is_recorded_as_unknown_once_a_minute(account, clock):
    apikey_authenticate(key=account.key, client_ip="203.0.113.9")
    clock.advance(seconds=30)
    apikey_authenticate(key=account.key, client_ip=None)
    assert _last_use(account.key) == (T0, "203.0.113.9")
    later = clock.advance(seconds=31)
    apikey_authenticate(key=account.key, client_ip=None)
    assert _last_use(account.key) == (later, None)


def test_the_api_records_the_callers_address(client, account, settings):
    settings.API_TRUSTED_PROXIES = 1
    response = client.post("/api/v2", {"key": account.key, "action": "balance"}, REMOTE_ADDR="10.0.0.1",
                           HTTP_X_FORWARDED_FOR="198.51.100.1, 2001:DB8:0::7")
    assert response.json() == {"balance": "10.00", "currency": "TRY"}
    assert _last_use(account.key)[1] == "2001:db8::7"


def test_account_balance_reads_a_deferred_balance_as_the_orm_would(account):
    """The key cache hands calls accounts without their balance; `balance` reads it then, exactly
    (a Decimal to the cent, also from SQLite's numbers), and once."""
    ledger_post(account_id=account.pk, amount=Decimal("0.10"), kind=LedgerKind.DEPOSIT)
    deferred = Account.objects.defer("balance").get(pk=account.pk)
    with CaptureQueriesContext(connection) as queries:
        assert account_balance(deferred) == Account.objects.get(pk=account.pk).balance
        balance = account_balance(deferred)
    assert isinstance(balance, Decimal) and balance == Decimal("10.10") and str(balance).endswith(".10000")
    assert len(queries) == 2  # the deferred read and the check above; the second call reads nothing
