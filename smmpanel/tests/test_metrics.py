"""`/metrics`: the documented series with their values on crafted data, a fixed query count,
request counts, and the optional bearer token."""
from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.models import FulfillmentTick, HoldReason, Order, OrderStatus
from orders.services import order_cancel, order_place
from smmpanel import metrics

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def place(account, service, n: int) -> Order:
    return order_place(account=account, fields={"service": service.pk, "link": f"https://x.com/u{n}", "quantity": 1000},
                       actor="test")


@pytest.fixture
def filesystem_broker(settings):
    settings.CELERY_BROKER_URL = "filesystem://localhost/"


def test_empty_panel_reports_every_status_and_reason_as_zero(client, filesystem_broker):
    samples = scrape(client)
    for status in OrderStatus.values:
        assert value(samples, "smm_orders", status=status) == 0
    for reason in ("needs_checking", "provider_out_of_funds", "parked"):
        assert value(samples, "smm_orders_on_hold", reason=reason) == 0
    assert value(samples, "smm_refunds_total") == 0
    assert value(samples, "smm_refunded_amount_total") == 0
    names = {name for name, _ in samples}
    # No tick yet: no tick figures (alert on their absence); the filesystem broker has no queue length.
    assert not names & {"smm_tick_duration_seconds", "smm_tick_lag_seconds", "smm_queue_length"}


def test_figures_on_crafted_data(client, filesystem_broker):
    account = reseller_with_key("metrics", Decimal("1000"))
    service = ServiceFactory(rate=Decimal("10"))  # 1000 units cost 10.00
    orders = [place(account, service, n) for n in range(6)]
    order_cancel(account=account, order_id=orders[0].pk, actor="test")  # Canceled, 10.00 refunded
    order_cancel(account=account, order_id=orders[1].pk, actor="test")
    Order.objects.filter(pk=orders[2].pk).update(status=OrderStatus.IN_PROGRESS, hold_reason=HoldReason.PARKED)
    Order.objects.filter(pk=orders[3].pk).update(status=OrderStatus.PROCESSING, hold_reason=HoldReason.NEEDS_CHECKING)
    Order.objects.filter(pk=orders[4].pk).update(status=OrderStatus.COMPLETED)
    now = timezone.now()
    FulfillmentTick.objects.create(started_at=now - timedelta(seconds=42), finished_at=now - timedelta(seconds=40),
                                   duration_ms=1500, moved={})

    samples = scrape(client)
    assert {status: value(samples, "smm_orders", status=status) for status in OrderStatus.values} == {
        "Pending": 1, "Processing": 1, "In progress": 1, "Completed": 1, "Partial": 0, "Canceled": 2,
    }
    assert value(samples, "smm_orders_on_hold", reason="parked") == 1
    assert value(samples, "smm_orders_on_hold", reason="needs_checking") == 1
    assert value(samples, "smm_orders_on_hold", reason="provider_out_of_funds") == 0
    assert value(samples, "smm_refunds_total") == 2
    assert value(samples, "smm_refunded_amount_total") == 20.0
    assert value(samples, "smm_tick_duration_seconds") == 1.5
    assert 40 <= value(samples, "smm_tick_lag_seconds") < 60


def test_queue_length_from_redis(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    class FakeRedis:
        def llen(self, key):
            assert key == "celery"
            return 7

    monkeypatch.setattr(metrics, "_redis_client", lambda url: FakeRedis())
    assert value(scrape(client), "smm_queue_length") == 7


def test_queue_length_is_nan_when_redis_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert math.isnan(value(scrape(client), "smm_queue_length"))


def test_query_count_does_not_grow_with_data(client, filesystem_broker):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            scrape(client)
        return len(queries)

    assert count() == 3
    account = reseller_with_key("many", Decimal("1000"))
    service = ServiceFactory(rate=Decimal("1"))
    for n in range(5):
        order_cancel(account=account, order_id=place(account, service, n).pk, actor="test")
    now = timezone.now()
    FulfillmentTick.objects.create(started_at=now, finished_at=now, duration_ms=1, moved={})
    assert count() == 3  # orders by status and hold, the last tick, refunds


def test_requests_are_counted_by_route_method_and_status(client, filesystem_broker):
    before = scrape(client)
    client.get("/health/live/")
    client.get("/no-such-page")
    after = scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("smm_http_requests_total", route="health-live", method="GET", status="200") == 1
    assert delta("smm_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("smm_http_request_duration_seconds_count", route="health-live", method="GET") == 1
    assert not any(dict(labels).get("route") == "metrics" for _, labels in after)  # scrapes are not counted


def test_token_is_enforced_when_set(client, settings, filesystem_broker):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret").status_code == 403
    assert "smm_orders" in {name for name, _ in scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")}


def test_open_without_a_token(client, settings, filesystem_broker):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200
