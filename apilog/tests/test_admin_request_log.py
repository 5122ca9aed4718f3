"""The request log in the admin: read-only, searched and filtered the ways an operator looks for
a call, in a fixed number of queries."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import reseller_with_key
from apilog.buffer import pending
from apilog.models import ApiRequest
from apilog.services import api_request_record
from smmpanel.tests.admin_helpers import operator

pytestmark = pytest.mark.django_db
LOG = reverse("admin:apilog_apirequest_changelist")


@pytest.fixture
def rows(db):
    alice, bob = reseller_with_key("alice"), reseller_with_key("bob")
    now = timezone.now()
    made = {
        "alice-ok": ApiRequest(account=alice, key_prefix="AAAAaaaa", action="add", outcome="ok",
                               client_ip="203.0.113.9", order_ids="17", duration_ms=12, created_at=now),
        "bob-ip": ApiRequest(account=bob, key_prefix="BBBBbbbb", action="balance",
                             outcome="IP address not allowed for this key", client_ip="2001:db8::5", duration_ms=3,
                             created_at=now - timedelta(days=3)),
        "guess": ApiRequest(account=None, key_prefix="", action="balance", outcome="Invalid API key",
                            client_ip="198.51.100.4", duration_ms=1, created_at=now - timedelta(days=40)),
        "bob-limited": ApiRequest(account=bob, key_prefix="BBBBbbbb", action="status", outcome="Too many requests",
                                  client_ip="203.0.113.77", duration_ms=1, created_at=now),
    }
    for row in made.values():
        row.save()
    return {name: row.pk for name, row in made.items()}


def shown(client, **params) -> set[int]:
    response = client.get(LOG, params)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


@pytest.fixture
def root_client(client):
    client.force_login(operator("root", superuser=True))
    return client


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alice", {"alice-ok"}),  # reseller username
        ("BBBBbbbb", {"bob-ip", "bob-limited"}),  # key prefix
        ("203.0.113", {"alice-ok", "bob-limited"}),  # address, from its start
        ("2001:db8::5", {"bob-ip"}),
        ("invalid api key", {"guess"}),  # outcome
    ],
)
def test_search_by_reseller_key_prefix_address_and_outcome(root_client, rows, query, expected):
    assert shown(root_client, q=query) == {rows[name] for name in expected}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"outcome": "ok"}, {"alice-ok"}),
        ({"outcome": "error"}, {"bob-ip", "guess", "bob-limited"}),
        ({"outcome": "Too many requests"}, {"bob-limited"}),
        ({"api_action": "balance"}, {"bob-ip", "guess"}),
        ({"created_at__gte": str(timezone.now() - timedelta(days=7))},
         {"alice-ok", "bob-ip", "bob-limited"}),
    ],
)
def test_filters_by_outcome_action_and_date(root_client, rows, params, expected):
    assert shown(root_client, **params) == {rows[name] for name in expected}


def test_the_log_is_read_only_even_for_a_superuser(root_client, rows):
    pk = rows["alice-ok"]
    assert root_client.get(reverse("admin:apilog_apirequest_add")).status_code == 403
    assert root_client.post(reverse("admin:apilog_apirequest_delete", args=[pk]), {"post": "yes"}).status_code == 403
    page = root_client.get(reverse("admin:apilog_apirequest_change", args=[pk]))
    assert page.status_code == 200 and 'name="outcome"' not in page.content.decode()
    root_client.post(reverse("admin:apilog_apirequest_change", args=[pk]), {"outcome": "forged"})
    assert ApiRequest.objects.get(pk=pk).outcome == "ok"


@pytest.mark.parametrize("role", ["Support", "Finance"])
def test_support_and_finance_read_the_log_and_change_nothing(client, rows, role):
    client.force_login(operator("sam", role))
    assert shown(client, q="alice") == {rows["alice-ok"]}
    pk = rows["alice-ok"]
    client.post(reverse("admin:apilog_apirequest_change", args=[pk]), {"outcome": "forged"})
    assert client.post(reverse("admin:apilog_apirequest_delete", args=[pk]), {"post": "yes"}).status_code == 403
    assert ApiRequest.objects.get(pk=pk).outcome == "ok"


def test_staff_without_the_permission_do_not_see_the_log(client, rows):
    client.force_login(operator("temp"))  # staff, in no role
    assert client.get(LOG).status_code == 403


def test_the_list_writes_this_processs_pending_rows_first(root_client, rows):
    api_request_record(created_at=timezone.now(), account_id=None, key_prefix="", action="balance",
                       outcome="Invalid API key", client_ip="192.0.2.1", order_ids="", duration_ms=1)
    assert len(pending) == 1
    assert len(shown(root_client, q="192.0.2.1")) == 1


def test_the_list_runs_the_same_queries_for_10_and_100_rows(root_client):
    account = reseller_with_key("carol")

    def page_queries(count: int) -> int:
        ApiRequest.objects.bulk_create(
            ApiRequest(account=account, key_prefix="CCCCcccc", action="status", outcome="ok", client_ip="192.0.2.9",
                       duration_ms=1) for _ in range(count - ApiRequest.objects.count())
        )
        with CaptureQueriesContext(connection) as queries:
            assert root_client.get(LOG).status_code == 200
        return len(queries)

    assert page_queries(10) == page_queries(100)
