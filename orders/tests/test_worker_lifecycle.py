"""A real Celery worker and beat (prefork, on Redis and PostgreSQL) move orders placed over HTTP."""
from __future__ import annotations

import pytest

from catalog.tests.factories import ServiceFactory
from orders.tests.live_processes import wait_for

pytestmark = pytest.mark.postgres


def test_status_moves_as_the_worker_delivers(processes, api, reseller):
    service = ServiceFactory(start_delay_seconds=2, speed_per_minute=600)
    processes.worker()
    processes.beat()
    order_id = api("add", service=service.pk, link="https://instagram.com/live", quantity=100)["order"]
    seen = []

    def completed():
        seen.append(api("status", order=order_id))
        return seen[-1]["status"] == "Completed"

    wait_for(completed, timeout=60, interval=0.3, message="the order to complete")
    statuses = [answer["status"] for answer in seen]
    assert statuses[0] in {"Pending", "Processing"}
    assert "In progress" in statuses
    assert any(0 < answer["remains"] < 100 for answer in seen)
    assert seen[-1]["remains"] == 0 and seen[-1]["start_count"] > 0
