"""`/metrics` for Prometheus.

Worker-side figures come from the database (and Redis) at scrape time, so they are right
however many web, worker and beat processes run, on however many machines: a fixed three
queries per scrape (orders by status and hold, the last tick, refund totals) plus one Redis
`LLEN` when the broker is Redis.

Request counts and latencies are counted in-process by `RequestMetricsMiddleware`. With several
gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty directory, writable, emptied at each
start) for web: prometheus_client then keeps the figures in files there and the scrape adds up
all workers' (see docs/deploy.md). Without it, one process's figures are reported.

When METRICS_TOKEN is set the endpoint asks for `Authorization: Bearer <token>` (403 otherwise).
"""
from __future__ import annotations

import functools
import hmac
import math
import os
import time

from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts.models import LedgerEntry, LedgerKind
from orders.models import FulfillmentTick, HoldReason, Order, OrderStatus

DEFAULT_QUEUE = "celery"

# Not registered in prometheus_client's global registry: each scrape builds its own registry.
REQUESTS = Counter(
    "smm_http_requests", "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"], registry=None,
)
LATENCY = Histogram(
    "smm_http_request_duration_seconds", "Time to answer HTTP requests, by route name and method.",
    ["route", "method"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"  # 404s and the like: one label, whatever path a scanner tried
    return match.view_name or match.route or "unnamed"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        if route != "metrics":  # scrapes would only count themselves
            method = request.method if request.method in {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"} else "other"
            REQUESTS.labels(route, method, str(response.status_code)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)
        return response


@functools.lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def queue_length() -> float | None:
    """Messages waiting in Celery's default queue: LLEN on Redis; None (not reported) for the
    filesystem broker; NaN when Redis does not answer."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    try:
        return float(_redis_client(url).llen(DEFAULT_QUEUE))
    except Exception:  # redis errors of every kind: the scrape still answers
        return math.nan


class PanelCollector(Collector):
    """Reads orders, the last tick, refunds and the queue when Prometheus scrapes."""

    def collect(self):
        statuses = GaugeMetricFamily("smm_orders", "Orders by status (all of them, finished ones included).", labels=["status"])
        holds = GaugeMetricFamily("smm_orders_on_hold", "Orders on hold, by reason.", labels=["reason"])
        by_status = dict.fromkeys(OrderStatus.values, 0)
        by_hold = {reason: 0 for reason in HoldReason.values if reason}
        # One query: every (status, hold_reason) pair with its count.
        for row in Order.objects.order_by().values("status", "hold_reason").annotate(n=Count("pk")):
            by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
            if row["hold_reason"]:
                by_hold[row["hold_reason"]] = by_hold.get(row["hold_reason"], 0) + row["n"]
        for status, n in by_status.items():
            statuses.add_metric([status], n)
        for reason, n in by_hold.items():
            holds.add_metric([reason], n)
        yield statuses
        yield holds

        tick = FulfillmentTick.objects.order_by("-finished_at").only("finished_at", "duration_ms").first()
        if tick is not None:  # before the first tick both are absent: alert on absent(smm_tick_lag_seconds)
            yield GaugeMetricFamily("smm_tick_duration_seconds", "How long the last fulfillment tick took.",
                                    value=tick.duration_ms / 1000)
            yield GaugeMetricFamily("smm_tick_lag_seconds", "Seconds since the last fulfillment tick finished.",
                                    value=max(0.0, (timezone.now() - tick.finished_at).total_seconds()))

        refunds = LedgerEntry.objects.filter(kind=LedgerKind.REFUND).aggregate(n=Count("pk"), amount=Sum("amount"))
        yield CounterMetricFamily("smm_refunds", "Refund ledger entries posted.", value=refunds["n"])
        yield CounterMetricFamily("smm_refunded_amount", f"Money refunded, in {settings.PANEL_CURRENCY}.",
                                  value=float(refunds["amount"] or 0))

        length = queue_length()
        if length is not None:
            yield GaugeMetricFamily("smm_queue_length", "Messages waiting in Celery's default queue.", value=length)


def registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every gunicorn worker's request figures
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(PanelCollector())
    return registry


def _authorized(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    if not _authorized(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
