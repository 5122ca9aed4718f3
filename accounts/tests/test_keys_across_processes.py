"""Keys are read from the database at every call (no key cache): a revocation, a disabled
account or an allow-list change made anywhere is obeyed by every web process from its next call."""
from __future__ import annotations

import re

import pytest
import requests

from accounts.models import ApiKey
from accounts.services import account_set_active, apikey_revoke, apikey_set_allowed_ips
from accounts.tests.factories import reseller_with_key
from accounts.tests.web_servers import WebServer, web_servers  # noqa: F401 - the fixture
from smmpanel.tests.admin_helpers import PASSWORD, operator

pytestmark = pytest.mark.postgres
INVALID = {"error": "Invalid API key"}


def test_a_revoked_key_is_refused_at_once_by_two_server_processes(web_servers):
    alice = reseller_with_key("alice", "100")
    first, second = web_servers.gunicorn(), web_servers.gunicorn()
    balance = {"balance": "100.00", "currency": "TRY"}
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


def test_a_key_revoked_in_one_processs_admin_is_refused_by_the_other(web_servers):
    operator("root", superuser=True)
    alice = reseller_with_key("alice", "100")
    first, second = web_servers.gunicorn(), web_servers.gunicorn()
    assert "balance" in second.api(alice.key)

    _revoke_in_admin(first, ApiKey.objects.get(account=alice))

    assert second.api(alice.key) == INVALID
    assert first.api(alice.key) == INVALID


def test_disabling_and_allow_lists_reach_every_process_at_once(web_servers):
    alice = reseller_with_key("alice", "100")
    first, second = web_servers.gunicorn(), web_servers.gunicorn()
    assert "balance" in first.api(alice.key) and "balance" in second.api(alice.key)

    apikey_set_allowed_ips(api_key=ApiKey.objects.get(account=alice), allowed_ips="198.51.100.0/24")
    refused = {"error": "IP address not allowed for this key"}  # the servers see 127.0.0.1
    assert first.api(alice.key) == refused and second.api(alice.key) == refused

    apikey_set_allowed_ips(api_key=ApiKey.objects.get(account=alice), allowed_ips="127.0.0.1")
    assert "balance" in first.api(alice.key) and "balance" in second.api(alice.key)

    account_set_active(account=alice, active=False)
    assert first.api(alice.key) == INVALID and second.api(alice.key) == INVALID
