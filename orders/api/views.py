"""The reseller API endpoint: authenticate, pick the action, answer JSON (always HTTP 200).
And its documentation page for humans, `GET /api/`.

Every call, whatever its outcome, leaves one row in the request log (apilog), written after the
response has gone out.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import apikey_verify
from apilog.services import api_request_record
from orders.api import ratelimit, reference
from orders.api.actions import ACTIONS, Call
from orders.api.request import request_fields, request_key
from smmpanel.client_address import client_address
from smmpanel.errors import InvalidAction, InvalidApiKey, IpNotAllowed

_IDS = re.compile(r"\d{1,20}")
MAX_LOGGED_IDS = 100


def _action_name(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _ids_text(value: Any) -> str:
    """The ids in an `order`/`orders` field (a string or a JSON array), as "1,2,3" for the log."""
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value or "")
    return ",".join(match.group() for match in islice(_IDS.finditer(text), MAX_LOGGED_IDS))


@dataclass
class CallRecord:
    """What the request log learns about a call as the view goes (never the key, never the body)."""

    created_at: Any
    client_ip: str | None
    account_id: int | None = None
    key_prefix: str = ""
    action: str = ""
    order_ids: str = ""


def _outcome(response: Response | None) -> str:
    data = getattr(response, "data", None)
    if response is None:
        return "Internal error"  # the exception handler itself failed; Django answers 500
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return "ok"


class ResellerApiView(APIView):
    """`POST /api/v2` (and its aliases): the de-facto SMM panel API; see docs/api.md."""

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        self.record = CallRecord(created_at=timezone.now(), client_ip=client_address(request))
        response = None
        try:
            response = super().dispatch(request, *args, **kwargs)
            return response
        finally:
            record = self.record
            if record.action == "add" and isinstance(getattr(response, "data", None), dict):
                record.order_ids = _ids_text(response.data.get("order")) or record.order_ids
            api_request_record(
                created_at=record.created_at,
                account_id=record.account_id,
                key_prefix=record.key_prefix,
                action=record.action,
                outcome=_outcome(response),
                client_ip=record.client_ip,
                order_ids=record.order_ids,
                duration_ms=round((time.monotonic() - started) * 1000),
            )

    def handle(self, request: Request) -> Response:
        record = self.record
        fields = request_fields(request)
        key = request_key(request, fields)
        action = _action_name(fields.get("action"))
        record.action = action
        record.order_ids = _ids_text(fields.get("orders") or fields.get("order"))
        try:
            api_key = apikey_verify(key=key, client_ip=record.client_ip)
        except IpNotAllowed as exc:
            record.account_id, record.key_prefix = exc.api_key.account_id, exc.api_key.prefix
            ratelimit.check_anonymous(request)  # a stolen key tried from elsewhere: the address's budget
            raise
        except InvalidApiKey:
            ratelimit.check_anonymous(request)  # an address guessing keys runs out of its budget
            raise
        record.account_id, record.key_prefix = api_key.account_id, api_key.prefix
        ratelimit.check_key(key, action)
        handler = ACTIONS.get(action)
        if handler is None:
            raise InvalidAction()
        call = Call(account=api_key.account, fields=fields, catalog_version=api_key.catalog_version,
                    idempotency_header=request.META.get("HTTP_IDEMPOTENCY_KEY"))
        answer = handler(call)
        if isinstance(answer, bytes):
            # Already JSON (`services`, from the cache): sent as stored, not parsed and rendered again.
            return HttpResponse(answer, content_type="application/json")
        return Response(answer)

    get = post = handle


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference for resellers: public (no login), with this panel's own URL in every example."""
    context = reference.page_context(
        endpoint=request.build_absolute_uri(reference.ENDPOINT_PATH),
        aliases=[request.build_absolute_uri(path) for path in reference.ALIAS_PATHS],
    )
    return render(request, "orders/api_docs.html", {**context, "site_header": admin.site.site_header})
