"""The reseller API endpoint: authenticate, pick the action, answer JSON (always HTTP 200).
And its documentation page for humans, `GET /api/`.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import apikey_verify
from orders.api import ratelimit, reference
from orders.api.actions import ACTIONS, Call
from orders.api.request import request_fields, request_key
from smmpanel.client_address import client_address
from smmpanel.errors import InvalidAction, InvalidApiKey, IpNotAllowed


def _action_name(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


class ResellerApiView(APIView):
    """`POST /api/v2` (and its aliases): the de-facto SMM panel API; see docs/api.md."""

    def handle(self, request: Request) -> Response:
        fields = request_fields(request)
        key = request_key(request, fields)
        try:
            account = apikey_verify(key=key, client_ip=client_address(request)).account
        except IpNotAllowed:
            ratelimit.check_anonymous(request)  # a stolen key tried from elsewhere: the address's budget
            raise
        except InvalidApiKey:
            ratelimit.check_anonymous(request)  # an address guessing keys runs out of its budget
            raise
        action = _action_name(fields.get("action"))
        ratelimit.check_key(key, action)
        handler = ACTIONS.get(action)
        if handler is None:
            raise InvalidAction()
        call = Call(account=account, fields=fields, idempotency_header=request.META.get("HTTP_IDEMPOTENCY_KEY"))
        return Response(handler(call))

    get = post = handle


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference for resellers: public (no login), with this panel's own URL in every example."""
    context = reference.page_context(
        endpoint=request.build_absolute_uri(reference.ENDPOINT_PATH),
        aliases=[request.build_absolute_uri(path) for path in reference.ALIAS_PATHS],
    )
    return render(request, "orders/api_docs.html", {**context, "site_header": admin.site.site_header})
