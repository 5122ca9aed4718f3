"""Structured logging: context (request id, account, order, task id) bound with contextvars and
added to every record by `ContextFilter`; `JsonFormatter` for production, `TextFormatter` for
development. settings.LOGGING picks the formatter (LOG_FORMAT, else JSON unless DEBUG).

- `RequestContextMiddleware` binds the request id (the client's `X-Request-ID` when it is sane,
  else a new one) and echoes it in the response's `X-Request-ID` header.
- The API binds the account once it knows it (`bind(account=…)`).
- Celery tasks get their task id (and `order_id` when the task takes one) from the signal
  handlers in smmpanel/celery.py.
- A log call can name an order with `extra={"order_id": …}`.
"""
from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import threading
import time
import uuid
from contextlib import contextmanager

FIELDS = ("request_id", "account", "order_id", "task_id")
_vars = {name: contextvars.ContextVar(f"smm_log_{name}", default=None) for name in FIELDS}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def bind(**values) -> list[tuple[contextvars.ContextVar, contextvars.Token]]:
    """Bind context fields for the current thread/task; returns tokens for `unbind`."""
    return [(_vars[name], _vars[name].set(value)) for name, value in values.items()]


def unbind(tokens) -> None:
    for var, token in reversed(tokens):
        try:
            var.reset(token)
        except ValueError:  # bound in another context (a thread pool's): just clear it
            var.set(None)


def bind_in_request(**values) -> None:
    """Bind for the rest of the current request only: a no-op outside one (a shell, a test
    calling a service), where nothing would unbind it. RequestContextMiddleware unbinds."""
    if _vars["request_id"].get() is not None:
        bind(**values)


@contextmanager
def bound(**values):
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)


def current() -> dict[str, object]:
    return {name: var.get() for name, var in _vars.items() if var.get() is not None}


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (an explicit `extra=` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields that are set,
    any other `extra=` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [request_id=… account=…]` for people reading a terminal."""

    def __init__(self, fmt: str | None = None, *args, **kwargs):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None) is not None)
        if context:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{context}]{newline}{rest}"
        return text


class RequestContextMiddleware:
    """Binds a request id for the request's log lines and returns it as `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        # account and order_id are reset too, so nothing leaks from an earlier request on this thread.
        tokens = bind(request_id=request_id, account=None, order_id=None)
        try:
            response = self.get_response(request)
        finally:
            unbind(tokens)
        response["X-Request-ID"] = request_id
        return response


class ThrottledWarning:
    """A warning logged at most once per `interval` seconds per process: a failing cache would
    otherwise log on every API call. `reset()` lets the next one through (tests)."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0):
        self.logger, self.interval = logger, interval
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, message: str, *args) -> None:
        now = time.monotonic()
        with self._lock:
            if self._last and now - self._last < self.interval:
                return
            self._last = now
        self.logger.warning(message, *args)

    def reset(self) -> None:
        self._last = 0.0
