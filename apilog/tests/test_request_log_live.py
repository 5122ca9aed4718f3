"""The request log written by real gunicorn processes: after each response when the buffer is
full, and what is still pending when the process stops."""
from __future__ import annotations

import pytest

from accounts.tests.factories import reseller_with_key
from accounts.tests.web_servers import web_servers  # noqa: F401 - the fixture
from apilog.models import ApiRequest
from orders.tests.live_processes import wait_for

pytestmark = pytest.mark.postgres


def test_a_server_process_writes_each_call_after_its_response(web_servers):
    alice = reseller_with_key("alice", "100")
    server = web_servers.gunicorn(env={"API_LOG_BUFFER_SIZE": "1"})

    assert server.api(alice.key) == {"balance": "100.00", "currency": "TRY"}
    assert server.api("not-a-key") == {"error": "Invalid API key"}

    def rows():
        return list(ApiRequest.objects.filter(action="balance").order_by("pk")
                    .values_list("account_id", "key_prefix", "outcome", "client_ip"))

    wait_for(lambda: len(rows()) == 2, timeout=30, message="two log rows")
    assert rows() == [(alice.pk, alice.key[:8], "ok", "127.0.0.1"), (None, "", "Invalid API key", "127.0.0.1")]


def test_a_stopping_server_process_writes_what_is_pending(web_servers):
    alice = reseller_with_key("alice", "100")
    server = web_servers.gunicorn(env={"API_LOG_BUFFER_SIZE": "1000", "API_LOG_FLUSH_SECONDS": "3600"})
    for _ in range(3):
        assert "balance" in server.api(alice.key)
    assert not ApiRequest.objects.filter(account=alice).exists()  # buffered: nothing written yet

    server.process.stop()  # SIGTERM: gunicorn's graceful shutdown, then the exit flush

    assert ApiRequest.objects.filter(account=alice, outcome="ok").count() == 3
