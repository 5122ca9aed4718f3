"""API keys' IP allow-lists: validated and canonical, enforced on the client address the rate
limiter uses (X-Forwarded-For only from trusted proxies), and edited in the admin."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import allowlist
from accounts.models import ApiKey
from accounts.services import apikey_authenticate, apikey_revoke, apikey_set_allowed_ips
from accounts.tests.factories import reseller_with_key
from smmpanel.errors import DomainError, InvalidApiKey, IpNotAllowed
from smmpanel.tests.admin_helpers import form_data, operator

NOT_ALLOWED = {"error": "IP address not allowed for this key"}
BALANCE = {"balance": "100.00", "currency": "TRY"}


@pytest.fixture
def alice(db):
    cache.clear()  # the anonymous budgets of earlier tests' addresses
    return reseller_with_key("alice", "100")


def key_row(account) -> ApiKey:
    return ApiKey.objects.get(account=account)


def call(client, key: str, address: str, **extra) -> dict:
    response = client.post("/api/v2", {"key": key, "action": "balance"}, REMOTE_ADDR=address, **extra)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("", ""),
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9/32, 198.51.100.0/24", "203.0.113.9\n198.51.100.0/24"),
        ("2001:DB8::/32\n2001:db8:0:0::1/128", "2001:db8::/32\n2001:db8::1"),
        ("::ffff:192.0.2.1  ::ffff:192.0.2.0/120", "192.0.2.1\n192.0.2.0/24"),
        ("10.0.0.0/8;10.0.0.0/8 ,\r\n 10.0.0.0/8", "10.0.0.0/8"),
    ],
)
def test_allow_lists_are_stored_one_canonical_entry_per_line(written, stored):
    assert allowlist.canonical(written) == stored


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("example.com", "'example.com' is not an IP address or network"),
        ("203.0.113.9/33", "'203.0.113.9/33' is not an IP address or network"),
        ("10.0.0.1/24", "'10.0.0.1/24' has host bits set (did you mean 10.0.0.0/24?)"),
        ("1.2.3.4, 300.1.1.1, x", "'300.1.1.1' is not an IP address or network; 'x' is not an IP address or network"),
    ],
)
def test_a_bad_allow_list_names_each_bad_entry(written, message):
    with pytest.raises(ValidationError) as refused:
        allowlist.canonical(written)
    assert refused.value.messages == [message]


def test_the_service_stores_the_canonical_list_and_refuses_a_bad_one(alice):
    api_key = key_row(alice)
    apikey_set_allowed_ips(api_key=api_key, allowed_ips="198.51.100.7/32 2001:db8::/48")
    assert key_row(alice).allowed_ips == "198.51.100.7\n2001:db8::/48"

    with pytest.raises(DomainError, match="'nope' is not an IP address"):
        apikey_set_allowed_ips(api_key=api_key, allowed_ips="198.51.100.8 nope")
    assert key_row(alice).allowed_ips == "198.51.100.7\n2001:db8::/48"


def test_an_empty_allow_list_admits_any_address(client, alice):
    for address in ("203.0.113.9", "2001:db8::1", "127.0.0.1"):
        assert call(client, alice.key, address) == BALANCE


@pytest.mark.parametrize(
    ("address", "answer"),
    [
        ("198.51.100.7", BALANCE),
        ("198.51.100.255", BALANCE),
        ("::ffff:198.51.100.7", BALANCE),  # an IPv4 client seen through an IPv6 socket
        ("2001:db8:0:1::5", BALANCE),
        ("198.51.101.1", NOT_ALLOWED),
        ("2001:db9::1", NOT_ALLOWED),
        ("203.0.113.9", NOT_ALLOWED),
    ],
)
def test_a_listed_key_answers_only_its_addresses_and_networks(client, alice, address, answer):
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.0/24\n2001:db8::/32")
    assert call(client, alice.key, address) == answer


@pytest.mark.parametrize(
    ("proxies", "forwarded", "answer"),
    [
        (0, "198.51.100.7", NOT_ALLOWED),  # no proxy trusted: the header is the client's to forge
        (1, "198.51.100.7", BALANCE),
        (1, "198.51.100.7, 203.0.113.9", NOT_ALLOWED),  # a forged left entry gains nothing
        (1, "203.0.113.9, 198.51.100.7", BALANCE),
        (2, "198.51.100.7, 10.0.0.2", BALANCE),
        (1, "not-an-address", NOT_ALLOWED),
    ],
)
def test_behind_proxies_the_allow_list_sees_the_rate_limiters_address(client, settings, alice, proxies, forwarded,
                                                                     answer):
    settings.API_TRUSTED_PROXIES = proxies
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.7")
    assert call(client, alice.key, "10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded) == answer


def test_unknown_and_revoked_keys_stay_invalid_api_key_from_any_address(client, alice):
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.7")
    assert call(client, "not-a-key", "198.51.100.7") == {"error": "Invalid API key"}
    apikey_revoke(api_key=key_row(alice))
    for address in ("198.51.100.7", "203.0.113.9"):
        assert call(client, alice.key, address) == {"error": "Invalid API key"}


def test_refused_calls_spend_the_addresss_budget_and_record_no_use(client, settings, alice):
    settings.API_RATE_LIMIT_ANON = "2/m"
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.7")

    answers = [call(client, alice.key, "203.0.113.9") for _ in range(3)]

    assert answers == [NOT_ALLOWED, NOT_ALLOWED, {"error": "Too many requests"}]
    assert call(client, alice.key, "198.51.100.7") == BALANCE  # the listed address is not held back
    assert key_row(alice).last_used_ip == "198.51.100.7"


def test_an_allow_list_change_applies_at_the_next_call(client, alice):
    assert call(client, alice.key, "203.0.113.9") == BALANCE
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.7")
    assert call(client, alice.key, "203.0.113.9") == NOT_ALLOWED
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="")
    assert call(client, alice.key, "203.0.113.9") == BALANCE


def test_the_refusal_carries_the_key_for_the_log_but_authenticate_raises_it(alice):
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.7")
    with pytest.raises(IpNotAllowed) as refused:
        apikey_authenticate(key=alice.key, client_ip="203.0.113.9")
    assert refused.value.api_key.pk == key_row(alice).pk
    with pytest.raises(IpNotAllowed):
        apikey_authenticate(key=alice.key, client_ip=None)  # an unreadable address is never listed
    assert not isinstance(refused.value, InvalidApiKey)


# --- the admin --------------------------------------------------------------------------------

def key_url(api_key: ApiKey) -> str:
    return reverse("admin:accounts_apikey_change", args=[api_key.pk])


def test_an_operator_edits_the_allow_list_on_the_keys_page(client, alice):
    root = operator("root", superuser=True)
    client.force_login(root)
    api_key = key_row(alice)
    data = form_data(client.get(key_url(api_key)).content.decode(), form_id="apikey_form")
    assert set(data) >= {"allowed_ips", "csrfmiddlewaretoken"}

    data.update(allowed_ips=["198.51.100.0/24, 2001:DB8::1"], label=["changed"], revoked_at=["2020-01-01"])
    response = client.post(key_url(api_key), data)

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.allowed_ips == "198.51.100.0/24\n2001:db8::1"
    assert (api_key.label, api_key.revoked_at) == ("first key", None)  # nothing else is editable
    assert call(client, alice.key, "198.51.100.3") == BALANCE
    assert call(client, alice.key, "203.0.113.9") == NOT_ALLOWED


def test_a_bad_allow_list_is_refused_in_the_admin_and_nothing_changes(client, alice):
    client.force_login(operator("root", superuser=True))
    api_key = key_row(alice)

    response = client.post(key_url(api_key), {"allowed_ips": "198.51.100.7\n10.0.0.1/8"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "allowed_ips": ["'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)"]
    }
    assert key_row(alice).allowed_ips == ""


@pytest.mark.parametrize("role", ["Support", "Finance"])
def test_only_key_managers_edit_allow_lists(client, alice, role):
    client.force_login(operator("sam", role))
    api_key = key_row(alice)
    page = client.get(key_url(api_key))
    assert page.status_code == 200 and 'name="allowed_ips"' not in page.content.decode()
    assert client.post(key_url(api_key), {"allowed_ips": "198.51.100.7"}).status_code == 403
    assert key_row(alice).allowed_ips == ""


def test_key_list_and_reseller_page_show_allow_list_and_last_use(client, alice):
    apikey_set_allowed_ips(api_key=key_row(alice), allowed_ips="198.51.100.0/24 2001:db8::/32")
    assert call(client, alice.key, "198.51.100.23") == BALANCE
    used = key_row(alice).last_used_at
    client.force_login(operator("sam", "Support"))

    listing = client.get(reverse("admin:accounts_apikey_changelist")).content.decode()
    reseller = client.get(reverse("admin:accounts_account_change", args=[alice.pk])).content.decode()

    for page in (listing, reseller):
        assert "198.51.100.0/24, 2001:db8::/32" in page
        assert "198.51.100.23" in page
        assert used.strftime("%Y") in page
    assert key_url(key_row(alice)) in reseller  # the inline links to the key's page
