"""A revocation, a disabled account or user, an allow-list change or a catalog change made anywhere
is obeyed by every web process from its next call: with the key cache (accounts/key_cache.py:
persistent connections, emptied by PostgreSQL notifications), and without it (every call looks its
key up). Each test runs both ways, against real gunicorn processes that have already served the key."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import ApiKey
from accounts.services import account_set_active, apikey_revoke, apikey_set_allowed_ips
from accounts.tests.factories import reseller_with_key
from accounts.tests.web_servers import WebServer, WebServers, web_servers  # noqa: F401 - the fixture
from catalog.models import CustomRate, Service
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from smmpanel.tests.admin_helpers import PASSWORD, operator

pytestmark = pytest.mark.postgres
INVALID = {"error": "Invalid API key"}
CACHED = {"CONN_MAX_AGE": "600"}  # persistent connections: the key cache is on (health checks are)
UNCACHED = {"API_KEY_CACHE": "0"}


class TwoServers:
    def __init__(self, servers: WebServers, env: dict[str, str]):
        self.servers, self.env = servers, env

    def start(self) -> tuple[WebServer, WebServer]:
        return self.servers.gunicorn(self.env), self.servers.gunicorn(self.env)


@pytest.fixture(params=[CACHED, UNCACHED], ids=["key cache", "no key cache"])
def two(request, web_servers) -> TwoServers:
    return TwoServers(web_servers, request.param)


def test_a_revoked_key_is_refused_at_once_by_two_server_processes(two):
    alice = reseller_with_key("alice", "100")
    first, second = two.start()
    balance = {"balance": "100.00", "currency": "TRY"}
    for _ in range(3):  # served more than once: from the cache, where there is one
        assert first.api(alice.key) == balance and second.api(alice.key) == balance

    apikey_revoke(api_key=ApiKey.objects.get(account=alice))

    assert second.api(alice.key) == INVALID
    assert first.api(alice.key) == INVALID


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _revoke_in_admin(server: WebServer, api_key: ApiKey) -> None:
    """An operator's browser session on `server`: log in, run the Revoke action on the key."""
    session = requests.Session()
    login = server.url + "/admin/login/"
    page = session.get(login, timeout=30).text
    session.post(login, data={"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": _csrf(page),
                              "next": "/admin/"}, timeout=30).raise_for_status()
    keys = server.url + "/admin/accounts/apikey/"
    page = session.get(keys, timeout=30).text
    done = session.post(keys, data={"action": "revoke", "_selected_action": [api_key.pk], "index": "0",
                                    "csrfmiddlewaretoken": _csrf(page)}, timeout=30)
    assert "Revoked 1 key(s)." in done.text


def test_a_key_revoked_in_one_processs_admin_is_refused_by_the_other(two):
    operator("root", superuser=True)
    alice = reseller_with_key("alice", "100")
    first, second = two.start()
    assert "balance" in second.api(alice.key) and "balance" in second.api(alice.key)

    _revoke_in_admin(first, ApiKey.objects.get(account=alice))

    assert second.api(alice.key) == INVALID
    assert first.api(alice.key) == INVALID


def test_disabling_and_allow_lists_reach_every_process_at_once(two):
    alice = reseller_with_key("alice", "100")
    first, second = two.start()
    assert "balance" in first.api(alice.key) and "balance" in second.api(alice.key)

    apikey_set_allowed_ips(api_key=ApiKey.objects.get(account=alice), allowed_ips="198.51.100.0/24")
    refused = {"error": "IP address not allowed for this key"}  # the servers see 127.0.0.1
    assert first.api(alice.key) == refused and second.api(alice.key) == refused

    apikey_set_allowed_ips(api_key=ApiKey.objects.get(account=alice), allowed_ips="127.0.0.1")
    assert "balance" in first.api(alice.key) and "balance" in second.api(alice.key)

    account_set_active(account=alice, active=False)
    assert first.api(alice.key) == INVALID and second.api(alice.key) == INVALID


def test_a_balance_is_never_served_from_the_cache(two):
    alice = reseller_with_key("alice", "100")
    first, second = two.start()
    assert first.api(alice.key)["balance"] == "100.00" and second.api(alice.key)["balance"] == "100.00"
    service = ServiceFactory(rate=Decimal("10"), min_quantity=10, max_quantity=1000)
    placed = first.api(alice.key, "add", service=service.pk, link="https://instagram.com/cache", quantity=100)
    assert "order" in placed, placed
    assert first.api(alice.key)["balance"] == "99.00" and second.api(alice.key)["balance"] == "99.00"


def test_a_deactivated_user_or_a_changed_key_is_refused_at_once(two):
    alice, bob = reseller_with_key("alice", "100"), reseller_with_key("bob", "100")
    first, second = two.start()
    assert "balance" in first.api(alice.key) and "balance" in second.api(bob.key)
    get_user_model().objects.filter(pk=alice.user_id).update(is_active=False)
    assert first.api(alice.key) == INVALID and second.api(alice.key) == INVALID
    with connection.cursor() as cursor:  # SQL that no Django code runs still reaches the caches
        cursor.execute("UPDATE accounts_apikey SET digest = md5(digest) WHERE account_id = %s", [bob.pk])
    assert first.api(bob.key) == INVALID and second.api(bob.key) == INVALID


def test_a_catalog_change_is_charged_at_the_next_add_in_every_process(two):
    alice = reseller_with_key("alice", "100")
    service = ServiceFactory(rate=Decimal("10"), min_quantity=10, max_quantity=1000)
    first, second = two.start()

    def charge(server: WebServer, n: int) -> Decimal:
        answer = server.api(alice.key, "add", service=service.pk, link=f"https://instagram.com/c{n}", quantity=100)
        return Order.objects.get(pk=answer["order"]).charge

    assert charge(first, 1) == Decimal("1") and charge(second, 2) == Decimal("1")
    Service.objects.filter(pk=service.pk).update(rate=Decimal("20"))
    assert charge(first, 3) == Decimal("2") and charge(second, 4) == Decimal("2")
    CustomRate.objects.create(account=alice, service=service, rate=Decimal("5"))
    assert charge(second, 5) == Decimal("0.5") and charge(first, 6) == Decimal("0.5")


def test_the_cache_serves_keys_and_only_the_triggers_keep_it_true(two):
    """Proof that the cached servers do serve keys from memory: a revocation written with triggers
    switched off (this session only) reaches the uncached servers, not the cached ones, until a
    change that does notify."""
    alice = reseller_with_key("alice", "100")
    first, second = two.start()
    assert "balance" in first.api(alice.key) and "balance" in second.api(alice.key)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no triggers fire for this session
        try:
            cursor.execute("UPDATE accounts_apikey SET revoked_at = now() WHERE account_id = %s", [alice.pk])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    expected = "balance" if two.env is CACHED else "error"
    assert expected in first.api(alice.key) and expected in second.api(alice.key)
    reseller_with_key("bob", "5")  # an unrelated write that notifies (a user, an account, a key)
    get_user_model().objects.filter(username="bob").update(is_active=False)
    assert first.api(alice.key) == INVALID and second.api(alice.key) == INVALID
