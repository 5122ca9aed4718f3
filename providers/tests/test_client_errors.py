"""How the client sorts failures, through real HTTP to a stub panel: error texts other panels send,
garbage bodies, slow and dropped answers, and the `add` contract (an unclear outcome is never a
plain temporary error, which a caller would retry)."""
from __future__ import annotations

import logging
import socket

import pytest

from providers.client import ProviderClient
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderOutOfFunds,
    ProviderPermanentError,
    ProviderTemporaryError,
)
from providers.tests.conftest import STUB_KEY
from providers.tests.stub_panel import Reply

ADD = {"service_id": 1, "link": "https://instagram.com/someone", "quantity": 100}


@pytest.mark.parametrize(("message", "kind"), [
    ("Not enough funds on balance", ProviderOutOfFunds),
    ("neworder.error.not_enough_funds", ProviderOutOfFunds),
    ("Insufficient balance", ProviderOutOfFunds),
    ("Insufficient funds", ProviderOutOfFunds),
    ("Your balance is too low", ProviderOutOfFunds),
    ("low balance", ProviderOutOfFunds),
    ("Invalid API key", ProviderAuthError),
    ("Incorrect API key", ProviderAuthError),
    ("User is banned", ProviderAuthError),
    ("Too many requests", ProviderTemporaryError),
    ("Service is under maintenance, try again later", ProviderTemporaryError),
    ("You have active order with this link. Please wait until order being completed.", ProviderTemporaryError),
    ("Invalid link", ProviderPermanentError),
    ("Service not found", ProviderPermanentError),
    ("Quantity less than minimal 100", ProviderPermanentError),
    ("Incorrect request", ProviderPermanentError),
    ("neworder.error.link_duplicate_invalid", ProviderPermanentError),
    ("Something nobody has seen before", ProviderPermanentError),
])
def test_error_answers_are_sorted(panel, client, message, kind):
    panel.reply("add", {"error": message})
    with pytest.raises(ProviderError) as raised:
        client.add(**ADD)
    assert type(raised.value) is kind
    assert raised.value.provider_message == message
    assert message in raised.value.message


def test_auth_errors_are_temporary_for_callers_that_know_three_outcomes(panel, client):
    panel.reply("balance", {"error": "Invalid API key"})
    with pytest.raises(ProviderTemporaryError):
        client.balance()


def test_error_answers_with_4xx_and_5xx_statuses_are_read(panel, client):
    panel.reply("add", Reply(json={"error": "Invalid link"}, status=400),
                Reply(json={"error": "Not enough funds on balance"}, status=500))
    with pytest.raises(ProviderPermanentError):
        client.add(**ADD)
    with pytest.raises(ProviderOutOfFunds):
        client.add(**ADD)


def test_a_nested_error_object(panel, client):
    panel.reply("status", {"error": {"code": 3, "message": "Order not found"}})
    with pytest.raises(ProviderPermanentError, match="Order not found"):
        client.status(1)


GARBAGE = {
    "html page": Reply(body=b"<html><body><h1>Welcome to nginx!</h1> {css: 1}</body></html>", content_type="text/html"),
    "empty body": Reply(body=b""),
    "truncated json": Reply(body=b'{"order": 12'),
    "500 page": Reply(body=b"<h1>Internal Server Error</h1>", status=500, content_type="text/html"),
    "503 json without error": Reply(json={"status": "down"}, status=503),
    "hung up mid-answer": Reply(json={"order": 123456}, cut_after=5),
    "dropped connection": Reply(drop=True),
    "slow answer": Reply(json={"order": 1}, delay=2.0),
}


@pytest.mark.parametrize("reply", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_temporary_for_reads(panel, client, reply):
    panel.reply("balance", reply)
    panel.reply("status", reply)
    with pytest.raises(ProviderTemporaryError) as raised:
        client.balance()
    assert type(raised.value) is ProviderTemporaryError
    with pytest.raises(ProviderTemporaryError):
        client.status_many([1, 2])


@pytest.mark.parametrize("reply", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_after_add_is_an_unknown_outcome(panel, client, reply):
    panel.reply("add", reply)
    with pytest.raises(ProviderOutcomeUnknown):
        client.add(**ADD)
    assert len(panel.calls("add")) == 1  # sent once, and the client did not resend it


@pytest.mark.parametrize("answer", [{"status": "ok"}, [{"order": 5}], {"order": None}, {"order": ""}, "12"])
def test_add_answered_without_an_order_id_is_an_unknown_outcome(panel, client, answer):
    panel.reply("add", answer)
    with pytest.raises(ProviderOutcomeUnknown, match="without an order id"):
        client.add(**ADD)


@pytest.mark.parametrize("status", [403, 404, 429])
def test_add_refused_by_a_proxy_page_is_temporary(panel, client, status):
    """A 4xx HTML page comes from something in front of the panel: no order was made."""
    panel.reply("add", Reply(body=b"<html>Just a moment...</html>", status=status, content_type="text/html"))
    with pytest.raises(ProviderTemporaryError) as raised:
        client.add(**ADD)
    assert type(raised.value) is ProviderTemporaryError


def test_a_redirect_is_not_followed(panel, client):
    panel.reply("add", Reply(body=b"", status=301, headers={"Location": "https://elsewhere.example/api/v2"}))
    with pytest.raises(ProviderTemporaryError, match="redirect to https://elsewhere.example/api/v2"):
        client.add(**ADD)
    assert len(panel.requests) == 1


def test_nothing_listening_is_temporary_even_for_add():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: connection refused
    client = ProviderClient(api_url=f"http://127.0.0.1:{port}/api/v2", api_key=STUB_KEY, name="gone", read_timeout=1)
    with pytest.raises(ProviderTemporaryError, match="not connected") as raised:
        client.add(**ADD)
    assert type(raised.value) is ProviderTemporaryError


@pytest.mark.parametrize(("action", "answer"), [
    ("services", {"service": 1}),
    ("status_many", ["not", "objects"]),
    ("balance", [{"balance": "1"}]),
    ("refill", {"refill": None}),
    ("refill_status", ["Completed"]),
])
def test_answers_of_the_wrong_shape_are_temporary(panel, client, action, answer):
    panel.reply(action.removesuffix("_many"), answer)
    call = {
        "services": client.services,
        "status_many": lambda: client.status_many([1]),
        "balance": client.balance,
        "refill": lambda: client.refill(1),
        "refill_status": lambda: client.refill_status(1),
    }[action]
    if action == "services":  # an object that is not a list of services: nothing usable, not an error
        assert call() == []
        return
    with pytest.raises(ProviderTemporaryError):
        call()


def test_the_key_never_appears_in_messages_or_logs(panel, client, caplog):
    caplog.set_level(logging.DEBUG)
    panel.reply("add", {"error": f"Invalid API key {STUB_KEY}"})
    panel.reply("balance", Reply(body=f"<html>bad key {STUB_KEY}</html>".encode(), status=502))
    raised = []
    for call in (lambda: client.add(**ADD), client.balance):
        with pytest.raises(ProviderError) as info:
            call()
        raised.append(info.value)
    assert "***" in raised[0].message and "***" in raised[1].message
    for error in raised:
        assert STUB_KEY not in str(error) and STUB_KEY not in repr(error)
        assert STUB_KEY not in (error.provider_message or "")
        assert error.__cause__ is None and error.__context__ is None or STUB_KEY not in str(error.__context__)
    assert caplog.records and STUB_KEY not in caplog.text
    assert STUB_KEY not in repr(client)
