"""The API request log: every call leaves one row (success, each error, rate-limited, invalid key,
a crash), written after the response, never holding the key or the body; old rows are purged."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import apikey_set_allowed_ips
from accounts.tests.factories import reseller_with_key
from apilog.buffer import pending
from apilog.models import ApiRequest
from apilog.services import api_requests_flush, api_requests_purge
from apilog.tasks import api_log_purge
from catalog.tests.factories import ServiceFactory
from orders.api import actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    cache.clear()
    return reseller_with_key("alice", "100")


@pytest.fixture
def immediate(settings):
    """Every call's row is written right after its response."""
    settings.API_LOG_BUFFER_SIZE = 1


def post(client, address="203.0.113.9", **fields) -> dict:
    response = client.post("/api/v2", fields, REMOTE_ADDR=address)
    assert response.status_code == 200
    return response.json()


def only_row() -> ApiRequest:
    [row] = ApiRequest.objects.all()
    return row


def test_a_successful_add_leaves_one_row_with_its_fields(client, alice, immediate):
    service = ServiceFactory()
    before = timezone.now()

    answer = post(client, key=alice.key, action="add", service=service.pk, link="@someone", quantity="100")

    row = only_row()
    assert (row.account, row.key_prefix, row.action, row.outcome, row.client_ip, row.order_ids) == (
        alice, alice.key[:8], "add", "ok", "203.0.113.9", str(answer["order"]))
    assert before <= row.created_at <= timezone.now()
    assert row.duration_ms >= 0


def test_the_ids_asked_about_are_logged(client, alice, immediate):
    post(client, key=alice.key, action="status", orders="12, x,7,12")
    assert (only_row().order_ids, only_row().outcome) == ("12,7,12", "ok")


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"action": "buy"}, "Invalid action"),
        ({"action": "add", "service": "999", "link": "@a", "quantity": "100"}, "Service not found"),
        ({"action": "status", "order": "123"}, "Order not found"),
        ({"action": "add"}, "Missing parameters"),
    ],
)
def test_each_api_error_is_logged_with_its_message(client, alice, immediate, fields, outcome):
    assert post(client, key=alice.key, **fields) == {"error": outcome}
    row = only_row()
    assert (row.outcome, row.account, row.key_prefix, row.action) == (outcome, alice, alice.key[:8], fields["action"])


def test_an_invalid_key_is_logged_with_the_address_and_no_account(client, alice, immediate):
    assert post(client, "198.51.100.4", key="guess-" + alice.key[6:], action="balance") == {"error": "Invalid API key"}
    row = only_row()
    assert (row.account, row.key_prefix, row.outcome, row.client_ip, row.action) == (
        None, "", "Invalid API key", "198.51.100.4", "balance")


def test_a_refused_address_is_logged_with_the_keys_account(client, alice, immediate):
    apikey_set_allowed_ips(api_key=ApiKey.objects.get(account=alice), allowed_ips="198.51.100.0/24")
    post(client, "203.0.113.9", key=alice.key, action="balance")
    row = only_row()
    assert (row.account, row.key_prefix, row.outcome, row.client_ip) == (
        alice, alice.key[:8], "IP address not allowed for this key", "203.0.113.9")


def test_rate_limited_calls_are_logged(client, alice, immediate, settings):
    settings.API_RATE_LIMIT_READ = "1/m"
    post(client, key=alice.key, action="balance")
    post(client, key=alice.key, action="balance")
    assert list(ApiRequest.objects.order_by("pk").values_list("outcome", flat=True)) == ["ok", "Too many requests"]


def test_a_call_that_raises_is_still_logged(client, alice, immediate, monkeypatch):
    def broken(call):
        raise RuntimeError("a bug")

    monkeypatch.setitem(actions.ACTIONS, "balance", broken)
    assert post(client, key=alice.key, action="balance") == {"error": "Internal error"}
    assert (only_row().outcome, only_row().account) == ("Internal error", alice)


def test_transport_errors_are_logged(client, alice, immediate):
    assert client.put("/api/v2", {}).json() == {"error": "Method not allowed"}
    assert client.post("/api/v2", "{broken", content_type="application/json").json() == {"error": "Invalid request body"}
    assert sorted(ApiRequest.objects.values_list("outcome", flat=True)) == ["Invalid request body", "Method not allowed"]


def test_the_key_and_the_body_never_reach_the_log(client, alice, immediate):
    service = ServiceFactory()
    secret_link = "https://instagram.com/private-link-4711"
    post(client, key=alice.key, action="add", service=service.pk, link=secret_link, quantity="100")
    post(client, key=alice.key, action="nope", comments="secret words")
    post(client, key=alice.key + "x", action="balance")  # a wrong key close to the real one
    client.post("/api/v2", {"action": "balance"}, HTTP_AUTHORIZATION=f"Bearer {alice.key}")

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiRequest._meta.db_table}")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert ApiRequest.objects.count() == 4
    for secret in (alice.key, alice.key[8:], secret_link, "secret words"):
        assert secret not in stored


def test_rows_wait_in_the_buffer_until_it_is_big_enough(client, alice, settings):
    settings.API_LOG_BUFFER_SIZE = 3
    settings.API_LOG_FLUSH_SECONDS = 3600

    post(client, key=alice.key, action="balance")
    post(client, key=alice.key, action="balance")
    assert (ApiRequest.objects.count(), len(pending)) == (0, 2)

    post(client, key=alice.key, action="balance")
    assert (ApiRequest.objects.count(), len(pending)) == (3, 0)


def test_an_old_buffer_is_flushed_by_the_next_api_call_only(client, alice, settings):
    settings.API_LOG_BUFFER_SIZE = 100
    settings.API_LOG_FLUSH_SECONDS = 3600
    post(client, key=alice.key, action="balance")
    settings.API_LOG_FLUSH_SECONDS = 0  # the pending row is now old enough

    assert client.get("/api/").status_code == 200  # not an API call: the log is not its business
    assert (ApiRequest.objects.count(), len(pending)) == (0, 1)

    post(client, key=alice.key, action="balance")
    assert (ApiRequest.objects.count(), len(pending)) == (2, 0)


def test_flush_writes_everything_pending_and_twice_is_safe(client, alice, settings):
    settings.API_LOG_FLUSH_SECONDS = 3600
    for _ in range(5):
        post(client, key=alice.key, action="balance")
    assert api_requests_flush() == 5
    assert api_requests_flush() == 0
    assert ApiRequest.objects.count() == 5


def _row(age: timedelta) -> ApiRequest:
    return ApiRequest.objects.create(created_at=timezone.now() - age, outcome="ok", duration_ms=1)


def test_purge_deletes_old_rows_only_in_bounded_batches():
    old = [_row(timedelta(days=31, minutes=i)) for i in range(5)]
    kept = [_row(timedelta(days=29)), _row(timedelta(minutes=1))]

    assert api_requests_purge(older_than=timedelta(days=30), batch_size=2, max_batches=2) == 4
    assert ApiRequest.objects.count() == 3
    assert api_requests_purge(older_than=timedelta(days=30), batch_size=2) == 1
    assert api_requests_purge(older_than=timedelta(days=30), batch_size=2) == 0
    assert set(ApiRequest.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert old


def test_the_purge_task_uses_the_retention_setting(settings):
    settings.API_LOG_RETENTION_DAYS = 7
    _row(timedelta(days=8))
    recent = _row(timedelta(days=6))
    assert api_log_purge() == 1
    assert list(ApiRequest.objects.values_list("pk", flat=True)) == [recent.pk]


def test_beat_runs_the_purge_hourly(settings):
    from smmpanel.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["api-log-purge"]
    assert (entry["task"], entry["schedule"]) == ("apilog.tasks.api_log_purge", 3600.0)
    assert entry["task"] in app.tasks


def test_rows_the_database_refuses_are_dropped_with_a_warning_and_the_caller_goes_on(alice, caplog):
    pending.append(ApiRequest(outcome="ok", duration_ms=-1))  # breaks the column's CHECK (>= 0)
    with caplog.at_level("WARNING", logger="smmpanel.apilog"):
        assert api_requests_flush() == 0
    assert "1 row(s) dropped" in caplog.text
    assert len(pending) == 0
    # The enclosing transaction is intact: the flush failed inside a savepoint of its own.
    assert ApiRequest.objects.count() == 0 and alice.api_keys.count() == 1
