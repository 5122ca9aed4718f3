"""Health endpoints for load balancers, containers and operators.

- `/health/live/` — liveness: the database answers a `SELECT 1`, nothing else. A Redis outage
  must never take web out of rotation (`add` keeps working without it), so Redis is not checked.
  200 `{"status": "ok"}` or 503 `{"status": "unavailable"}`.
- `/health/` — everything, with django-health-check: database, cache, broker and a live Celery
  worker. HTML by default, JSON with `Accept: application/json` or `?format=json`; 500 when any
  check fails. Neither needs a login.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging

import celery
from celery.app import app_or_default

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def live(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            ok = cursor.fetchone() == (1,)
    except DatabaseError as error:
        logger.warning("liveness: the database does not answer: %s", error)
        ok = False
    if ok:
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "unavailable"}, status=503)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis in production, the filesystem transport
    on the embedded defaults), with a short timeout and no retries."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=2), repr=False)

    def run(self):
        from smmpanel.celery import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as error:  # kombu raises the transport's own errors (redis, OSError …)
            raise ServiceUnavailable(f"Broker unreachable ({type(error).__name__})") from error


def _ping_timeout() -> datetime.timedelta:
    # The filesystem transport (the embedded defaults) polls its folders once a second, at both
    # ends: a ping and its pong take up to two polls, so one second reported a live worker dead.
    polling = settings.CELERY_BROKER_URL.startswith("filesystem://")
    return datetime.timedelta(seconds=3 if polling else 1)


@dataclasses.dataclass
class Worker(Ping):
    """At least one Celery worker answers a ping (and consumes the default queue). Reported as
    `Worker()`: the app is left out of the name, which would otherwise carry a memory address."""

    app: celery.Celery = dataclasses.field(default_factory=app_or_default, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default_factory=_ping_timeout, repr=False)
    limit: int | None = dataclasses.field(default=1, repr=False)  # one live worker is enough: don't wait out the timeout


health = HealthCheckView.as_view(checks=[Database, Cache, Broker, Worker])
