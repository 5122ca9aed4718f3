"""The one place that turns any exception in the reseller API into `{"error": …}` with HTTP 200.

Clients read the body and ignore the status; a 4xx or an HTML page breaks many of them.
"""
from __future__ import annotations

import logging

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework import exceptions as drf
from rest_framework.response import Response

from smmpanel.errors import DomainError

logger = logging.getLogger("smmpanel.api")

_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def error_response(message: str) -> Response:
    return Response({"error": message}, status=200)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, _TOO_LARGE):
        return "Request too large"
    if isinstance(exc, (drf.ParseError, drf.UnsupportedMediaType, UnicodeDecodeError)):
        return "Invalid request body"
    if isinstance(exc, drf.MethodNotAllowed):
        return "Method not allowed"
    logger.exception("Unhandled error in the reseller API", exc_info=exc)
    return "Internal error"


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes an API error answer."""
    response = error_response(error_message(exc))
    if retry_after := getattr(exc, "retry_after", None):  # only the rate limiter's TooManyRequests
        response["Retry-After"] = str(retry_after)
    return response
