"""Gather a reseller API request's fields from wherever clients put them."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework.request import Request

from smmpanel.errors import InvalidRequestBody, RequestTooLarge


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def request_fields(request: Request) -> dict[str, Any]:
    """Query-string fields, overlaid by the body's (form, multipart or a JSON object)."""
    # Checked before anything reads the body: Django only limits form bodies, not JSON ones.
    if _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise RequestTooLarge()
    fields: dict[str, Any] = {name: request.query_params.get(name) for name in request.query_params}
    data = request.data
    if isinstance(data, QueryDict):
        fields.update({name: data.get(name) for name in data})
    elif isinstance(data, dict):
        fields.update(data)
    else:
        raise InvalidRequestBody()
    return fields


def request_key(request: Request, fields: dict[str, Any]) -> str | None:
    """The API key: the `key` field, else `X-API-Key`, else `Authorization: Bearer …`."""
    key = fields.get("key")
    if isinstance(key, str) and key.strip():
        return key.strip()
    if header := request.META.get("HTTP_X_API_KEY", "").strip():
        return header
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
