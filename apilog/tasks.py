"""Celery tasks of the request log: thin, calling a service."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apilog.services import api_requests_purge


@shared_task(acks_late=False)
def api_log_purge() -> int:
    """Delete request-log rows older than API_LOG_RETENTION_DAYS (beat runs it hourly)."""
    return api_requests_purge(older_than=timedelta(days=settings.API_LOG_RETENTION_DAYS))
