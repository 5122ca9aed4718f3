"""Structured logs: JSON lines carrying request_id and account on an API call, the request id
echoed in X-Request-ID, task ids bound in Celery tasks, and text format with DEBUG."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from accounts.tests.factories import reseller_with_key
from orders.api import actions
from smmpanel import logs
from smmpanel.celery import app


@pytest.fixture
def captured():
    """The root logger's lines as the console handler formats them in production (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.mark.django_db
def test_an_api_call_logs_json_with_request_id_and_account(client, captured, monkeypatch):
    account = reseller_with_key("logger", Decimal("5"))
    original = actions.ACTIONS["balance"]

    def balance(call):
        logging.getLogger("orders.api").info("balance asked")
        return original(call)

    monkeypatch.setitem(actions.ACTIONS, "balance", balance)
    response = client.post("/api/v2", {"key": account.key, "action": "balance"}, HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    line = next(line for line in captured() if line["message"] == "balance asked")
    assert line["request_id"] == "req-123"
    assert line["account"] == "logger"
    assert line["level"] == "INFO" and line["logger"] == "orders.api" and line["time"]
    # Nothing stays bound after the request.
    logging.getLogger("after").info("outside")
    outside = next(line for line in captured() if line["message"] == "outside")
    assert "request_id" not in outside and "account" not in outside


@pytest.mark.django_db
def test_a_request_id_is_generated_when_missing_or_unsafe(client):
    generated = client.get("/health/live/")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/health/live/", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"] != "bad id\nwith newline"


def test_order_id_passed_as_extra_is_a_field(captured):
    logging.getLogger("orders.wakeups").warning("order %s", 42, extra={"order_id": 42})
    assert captured()[-1]["order_id"] == 42


@app.task(name="smmpanel.tests.log_probe")
def log_probe(order_id: int) -> None:
    logging.getLogger("orders.tasks").info("probe ran")


def test_celery_tasks_bind_task_and_order_ids(captured):
    before = logs.current()
    result = log_probe.apply(kwargs={"order_id": 7})
    line = next(line for line in captured() if line["message"] == "probe ran")
    assert line["task_id"] == result.id
    assert line["order_id"] == 7
    assert logs.current() == before  # unbound after the task


def test_text_formatter_is_readable():
    record = logging.LogRecord("orders", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    with logs.bound(request_id="abc", account="alice"):
        logs.ContextFilter().filter(record)
    text = logs.TextFormatter().format(record)
    assert text.endswith("INFO orders hello you [request_id=abc account=alice]")


def _formatter_with(**env) -> str:
    code = "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    environment.update(SECRET_KEY="x", DJANGO_SETTINGS_MODULE="smmpanel.settings", **env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, cwd=django_settings.BASE_DIR,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_format_follows_debug_and_log_format():
    assert _formatter_with() == "json"
    assert _formatter_with(DEBUG="1") == "text"
    assert _formatter_with(DEBUG="1", LOG_FORMAT="json") == "json"
    assert _formatter_with(LOG_FORMAT="text") == "text"
