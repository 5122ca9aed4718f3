"""The API request log's writes: record a call (buffered), flush the buffer, purge old rows."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apilog.buffer import pending
from apilog.models import ApiRequest

logger = logging.getLogger("smmpanel.apilog")
_OUTCOME_LENGTH = ApiRequest._meta.get_field("outcome").max_length
_ACTION_LENGTH = ApiRequest._meta.get_field("action").max_length
_ORDERS_LENGTH = ApiRequest._meta.get_field("order_ids").max_length
# Set in the thread of a request that logged a call: only such a request flushes afterwards, so
# other pages (admin, /metrics) never do the log's writing.
_logged_here = threading.local()


def api_request_record(
    *,
    created_at: datetime,
    account_id: int | None,
    key_prefix: str,
    action: str,
    outcome: str,
    client_ip: str | None,
    order_ids: str,
    duration_ms: int,
) -> None:
    """Queue one call's log row; written by the next flush (see flush_after_api_request)."""
    pending.append(
        ApiRequest(
            created_at=created_at,
            account_id=account_id,
            key_prefix=key_prefix[:8],
            action=action[:_ACTION_LENGTH],
            outcome=outcome[:_OUTCOME_LENGTH],
            client_ip=client_ip or "",
            order_ids=order_ids[:_ORDERS_LENGTH],
            duration_ms=max(0, duration_ms),
        )
    )
    _logged_here.flag = True


def api_requests_flush() -> int:
    """Write every pending row with one bulk INSERT; returns how many were written.

    A failing database must not fail the API: the rows are dropped with one warning (keeping them
    would grow the buffer without bound while the database is away).
    """
    rows = pending.take()
    if not rows:
        return 0
    try:
        # A savepoint of its own when called inside a transaction (bulk_create alone would mark
        # the caller's transaction broken on an error).
        with transaction.atomic():
            ApiRequest.objects.bulk_create(rows, batch_size=500)
    except Exception as exc:  # noqa: BLE001 - any failure: log it, never raise into a request
        logger.warning("API request log: %d row(s) dropped, the database refused them (%s: %s)",
                       len(rows), type(exc).__name__, exc)
        return 0
    return len(rows)


def flush_after_api_request(**_) -> None:
    """request_finished receiver: after an API call, flush when the buffer is big or old enough."""
    if not getattr(_logged_here, "flag", False):
        return
    _logged_here.flag = False
    if pending.due(size=settings.API_LOG_BUFFER_SIZE, age_seconds=settings.API_LOG_FLUSH_SECONDS):
        api_requests_flush()


def api_requests_purge(*, older_than: timedelta, batch_size: int = 5000, max_batches: int = 100) -> int:
    """Delete log rows older than `older_than`, `batch_size` at a time (each its own short
    statement, so no long lock and no huge transaction); returns how many were deleted. Stops after
    `max_batches`: the next run continues.
    """
    cutoff = timezone.now() - older_than
    deleted = 0
    for _ in range(max_batches):
        ids = list(ApiRequest.objects.filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        deleted += ApiRequest.objects.filter(pk__in=ids).delete()[0]
    return deleted
