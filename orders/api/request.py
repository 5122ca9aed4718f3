"""Gather a reseller API request's fields from wherever clients put them, within the request limits.

The limits of the request as a whole live here (docs/security.md, "Request limits"); the limits
of each field live in smmpanel.fields, applied where the field is read, in the API's check order.
"""
from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.utils.encoding import escape_uri_path
from rest_framework.request import Request

from smmpanel import fields as f
from smmpanel.errors import InvalidRequestBody, RequestTooLarge

# API.md: a request line (`GET /api/v2?… HTTP/1.1`) up to this many bytes. gunicorn stops reading
# at the same length (gunicorn.conf.py); this check holds the line to it under any other server.
MAX_REQUEST_LINE = 8190
# What an API key can be made of (accounts.services generates them from these characters).
_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def request_line_length(request: Request) -> int:
    """Bytes of `METHOD URI PROTOCOL` as the client sent them (gunicorn's RAW_URI), else as rebuilt."""
    meta = request.META
    uri = meta.get("RAW_URI")
    if uri is None:
        query = meta.get("QUERY_STRING", "")
        uri = escape_uri_path(request.path) + (f"?{query}" if query else "")
    # WSGI strings carry one byte per character (PEP 3333), so characters are bytes here.
    return len(f"{request.method} {uri} {meta.get('SERVER_PROTOCOL', 'HTTP/1.1')}")


def _body_fields(request: Request) -> dict[str, Any]:
    try:
        data = request.data
    except RecursionError as exc:  # JSON nested deeper than the parser's stack
        raise InvalidRequestBody() from exc
    if isinstance(data, QueryDict):
        # A multipart body's file parts sit beside its fields in `data`: they are no field (ignored);
        # their size is bounded with the body's. A repeated field's last value wins, as in PHP.
        fields = {}
        for name, values in data.lists():
            texts = [value for value in values if isinstance(value, str)]
            if texts:
                fields[name] = texts[-1]
        return fields
    if isinstance(data, dict):
        # Django counts form and multipart fields (TooManyFieldsSent); a JSON object gets the same limit.
        if len(data) > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
            raise RequestTooLarge()
        return data
    raise InvalidRequestBody()


def request_fields(request: Request) -> dict[str, Any]:
    """Query-string fields, overlaid by the body's (form, multipart or a JSON object)."""
    if request_line_length(request) > MAX_REQUEST_LINE:
        raise RequestTooLarge()
    # Checked before anything reads the body: Django only limits form bodies, not JSON ones.
    if _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise RequestTooLarge()
    # The query string is counted by Django too (TooManyFieldsSent, answered `Request too large`).
    fields: dict[str, Any] = {name: request.query_params.get(name) for name in request.query_params}
    fields.update(_body_fields(request))
    return fields


def request_key(request: Request, fields: dict[str, Any]) -> str | None:
    """The API key: the `key` field, else `X-API-Key`, else `Authorization: Bearer …`.

    A key that cannot be one (not URL-safe text, or too long) is answered like an unknown key,
    `Invalid API key`, and counted against the address like one: the key is the first check.
    """
    key = fields.get("key")
    if not f.is_blank(key):
        return _well_formed_key(key)
    if header := request.META.get("HTTP_X_API_KEY", "").strip():
        return _well_formed_key(header)
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return _well_formed_key(token.strip())
    return None


def _well_formed_key(value: Any) -> str | None:
    key = value.strip() if isinstance(value, str) else ""
    if len(key) > f.max_length("key") or not _KEY.fullmatch(key):
        return None
    return key
