"""A client for the standard SMM panel API, as spoken by the provider panels we resell.

Every call is one form-encoded POST of `key`, `action` and the action's fields to the provider's
URL, on a fresh connection (a stale kept-alive one could fail after `add` was written and turn a
clean error into an unclear one), without following redirects (a redirected POST arrives as a
body-less GET), with connect and read timeouts from settings.

The contract (exception classes in providers.errors):

- A JSON `{"error": …}` answer raises the class `error_for_message` sorts it into — for every
  action, and whatever the HTTP status (some panels answer errors with 4xx).
- Not connected (refused, DNS, connect timeout): ProviderTemporaryError — nothing was sent.
- Sent but no usable answer (read timeout, dropped connection, 5xx, HTML, empty or truncated
  JSON, a JSON shape we cannot read): ProviderTemporaryError for every action except `add`.
- `add` returns the provider's order id, or raises ProviderOutcomeUnknown whenever the request
  may have reached the provider without an order id coming back: the caller must hold the order
  (`needs_checking`) and never resend it blindly. A 4xx without a JSON error (a proxy's or rate
  limiter's page) and a redirect raise ProviderTemporaryError: the panel itself never saw it.
- The API key never appears in messages or logs: each message is ours, and any provider text
  quoted in it has the key replaced by `***`.

Tolerance of odd answers (numbers as strings, spelling of statuses, missing values) lives in
providers.parsing, which turns answers into the frozen dataclasses re-exported here.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import MaxRetryError, NewConnectionError

from providers import parsing
from providers.errors import (
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderTemporaryError,
    error_for_message,
)
from providers.parsing import Balance, CancelAnswer, UpstreamRefillStatus, UpstreamService, UpstreamStatus

__all__ = [
    "Balance", "CancelAnswer", "ProviderClient", "UpstreamRefillStatus", "UpstreamService", "UpstreamStatus",
    "client_for", "BATCH_SIZE",
]

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # ids per `status` or `cancel` call: the standard's limit
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a `services` list of tens of thousands of entries fits


class _Unanswered(Exception):
    """Internal: the request was sent (or may have been) and no usable answer came back."""

    def __init__(self, message: str, *, status: int | None = None):
        self.status = status
        super().__init__(message)


class ProviderClient:
    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        name: str = "provider",
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ):
        self.api_url = api_url
        self._api_key = api_key
        self.name = name
        self.timeout = (
            settings.PROVIDER_CONNECT_TIMEOUT_SECONDS if connect_timeout is None else connect_timeout,
            settings.PROVIDER_READ_TIMEOUT_SECONDS if read_timeout is None else read_timeout,
        )

    def __repr__(self) -> str:
        return f"<ProviderClient {self.name} {self.api_url}>"

    # --- actions ------------------------------------------------------------------------------

    def services(self) -> list[UpstreamService]:
        return parsing.services_list(self._call("services"))

    def add(self, *, service_id: str | int, link: str, quantity: int | None = None, **type_fields: Any) -> str:
        """Place an order; returns the provider's order id. See the module docstring for the
        ProviderOutcomeUnknown contract.

        `type_fields` are sent as given, None left out: `runs` and `interval` (drip-feed, with
        `quantity` per run), and every type's own fields (catalog.service_types.EXTRA_FIELDS:
        `comments`, `usernames`, `hashtags`, `hashtag`, `username`, `media`, `answer_number`,
        `keywords`), list fields one item per line, as Order.extra keeps them."""
        fields = {"service": str(service_id), "link": link, "quantity": quantity, **type_fields}
        data = {name: str(value) for name, value in fields.items() if value is not None}
        try:
            answer = self._call("add", data, unclear_is_temporary=False)
        except _Unanswered as exc:
            raise ProviderOutcomeUnknown(f"{self.name}: `add` sent, outcome unknown: {exc}") from None
        order_id = parsing.id_text(answer.get("order")) if isinstance(answer, dict) else None
        if order_id is None:
            raise ProviderOutcomeUnknown(f"{self.name}: `add` answered without an order id")
        return order_id

    def status(self, order_id: str | int) -> UpstreamStatus:
        """One order's status; an `{"error": …}` answer (`Order not found` too) raises."""
        return parsing.upstream_status(self._call("status", {"order": str(order_id)}))

    def status_many(self, order_ids: Iterable[str | int]) -> dict[str, UpstreamStatus]:
        """Statuses by id, in calls of BATCH_SIZE ids. Per-order errors are in `.error`; ids the
        provider left out are missing. A failing call raises (pass ≤ BATCH_SIZE ids to isolate)."""
        ids = _unique_ids(order_ids)
        results: dict[str, UpstreamStatus] = {}
        for batch in _batches(ids):
            answer = self._call("status", {"orders": ",".join(batch)})
            results.update(parsing.statuses_by_id(answer, batch))
        return results

    def cancel(self, order_ids: Iterable[str | int]) -> list[CancelAnswer]:
        """Ask the provider to cancel orders; per-order refusals are in `.error`. Accepted means
        asked, not done: the order is canceled when a later `status` says so."""
        ids = _unique_ids(order_ids)
        results: list[CancelAnswer] = []
        for batch in _batches(ids):
            results.extend(parsing.cancel_answers(self._call("cancel", {"orders": ",".join(batch)}), batch))
        return results

    def refill(self, order_id: str | int) -> str:
        """Ask for a refill of a finished order; returns the provider's refill id."""
        answer = self._call("refill", {"order": str(order_id)})
        refill_id = parsing.id_text(answer.get("refill")) if isinstance(answer, dict) else None
        if refill_id is None:
            raise ProviderTemporaryError(f"{self.name}: `refill` answered without a refill id")
        return refill_id

    def refill_status(self, refill_id: str | int) -> UpstreamRefillStatus:
        return parsing.refill_status(self._call("refill_status", {"refill": str(refill_id)}))

    def balance(self) -> Balance:
        return parsing.balance(self._call("balance"))

    # --- transport ----------------------------------------------------------------------------

    def _call(self, action: str, fields: dict[str, str] | None = None, *, unclear_is_temporary: bool = True) -> Any:
        """POST one action; returns the decoded JSON answer. Raises ProviderError subclasses, or
        _Unanswered (sent, no usable answer) when `unclear_is_temporary` is off."""
        started = time.monotonic()
        try:
            answer = self._post(action, fields or {})
        except _Unanswered as exc:
            self._log(started, f"{self.name}: `{action}`: no usable answer: {exc}")
            if unclear_is_temporary:
                raise ProviderTemporaryError(f"{self.name}: `{action}`: {exc}") from None
            raise
        except ProviderError as exc:
            self._log(started, exc.message)
            raise
        if (message := parsing.error_text(answer)) is not None:
            error = error_for_message(self._redact(message), where=f"{self.name}: `{action}`")
            self._log(started, error.message)
            raise error
        self._log(started, f"{self.name}: `{action}`: ok")
        return answer

    def _post(self, action: str, fields: dict[str, str]) -> Any:
        try:
            response = requests.post(
                self.api_url,
                data={"key": self._api_key, "action": action, **fields},
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json", "Connection": "close"},
            )
        except requests.RequestException as exc:
            detail = self._redact(f"{type(exc).__name__}: {exc}")
            if _never_sent(exc):
                raise ProviderTemporaryError(f"{self.name}: `{action}`: not connected ({detail})") from None
            raise _Unanswered(detail) from None
        with response:
            body = self._read(response)
        status = response.status_code
        if 300 <= status < 400:
            raise ProviderTemporaryError(
                f"{self.name}: `{action}`: HTTP {status} redirect to {self._redact(response.headers.get('Location', '?'))}"
                " (fix the API URL: a redirected POST loses its fields)"
            )
        answer = _lenient_json(body)
        if answer is _GARBAGE:
            sample = self._redact(body[:80].decode("utf-8", "replace")).replace("\n", " ")
            detail = f"HTTP {status}, not JSON ({len(body)} bytes: {sample!r})"
            if 400 <= status < 500:  # a proxy's or rate limiter's page: the panel never saw it
                raise ProviderTemporaryError(f"{self.name}: `{action}`: {detail}")
            raise _Unanswered(detail, status=status)
        if status >= 500 and parsing.error_text(answer) is None:
            raise _Unanswered(f"HTTP {status}", status=status)
        return answer

    def _read(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _Unanswered(f"answer larger than {MAX_ANSWER_BYTES} bytes")
                chunks.append(chunk)
        except requests.RequestException as exc:  # read timeout or a connection dropped mid-answer
            raise _Unanswered(self._redact(f"{type(exc).__name__}: {exc}")) from None
        return b"".join(chunks)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @staticmethod
    def _log(started: float, outcome: str) -> None:
        # Outcomes only, never the fields: they hold the key (and resellers' links).
        logger.info("provider call %s (%d ms)", outcome, (time.monotonic() - started) * 1000)


def client_for(provider) -> ProviderClient:
    """The client for a providers.models.Provider row."""
    return ProviderClient(api_url=provider.api_url, api_key=provider.api_key, name=provider.name)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never made, so the provider cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


_GARBAGE = object()


def _lenient_json(body: bytes) -> Any:
    """The JSON value of a body, also when PHP notices or a BOM come before it; else _GARBAGE.

    Only a JSON value that ends the body counts, so an HTML page that merely contains braces is
    garbage, not an answer.
    """
    text = body.decode("utf-8-sig", "replace").strip()
    if not text:
        return _GARBAGE
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    tries = 0
    for index, char in enumerate(text):
        if char not in "{[":
            continue
        tries += 1
        if tries > 50:
            break
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            continue
        if end == len(text) and isinstance(value, (dict, list)):
            return value
    return _GARBAGE


def _unique_ids(ids: Iterable[str | int]) -> list[str]:
    return list(dict.fromkeys(str(order_id) for order_id in ids))


def _batches(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield list(ids[start:start + BATCH_SIZE])
