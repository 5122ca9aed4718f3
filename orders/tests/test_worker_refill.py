"""A real Celery worker and beat (prefork, on Redis and PostgreSQL) deliver an order placed over
HTTP and then its refill, asked for and followed over HTTP: Pending → In progress → Completed, or
Rejected when nothing dropped.
"""
from __future__ import annotations

import pytest

from catalog.tests.factories import ServiceFactory
from orders.models import Refill, RefillStatus
from orders.tests.live_processes import wait_for

pytestmark = pytest.mark.postgres

SPEED = 12_000  # units a minute (200 a second): 1000 units in 5 s, a refill of 500 in 2.5 s


def test_a_refill_is_redelivered_by_the_worker_or_rejected_when_nothing_dropped(processes, api, reseller):
    dropping = ServiceFactory(start_delay_seconds=0, speed_per_minute=SPEED, drop_percent=50)
    holding = ServiceFactory(start_delay_seconds=0, speed_per_minute=SPEED, drop_percent=0)
    processes.worker()
    processes.beat()
    dropped = api("add", service=dropping.pk, link="https://instagram.com/drops", quantity=1000)["order"]
    kept = api("add", service=holding.pk, link="https://instagram.com/keeps", quantity=100)["order"]

    def delivered():
        answer = api("status", orders=f"{dropped},{kept}")
        return all(answer[str(pk)]["status"] == "Completed" for pk in (dropped, kept))

    wait_for(delivered, timeout=60, interval=0.3, message="both orders to complete")

    refill = api("refill", order=dropped)["refill"]
    [batch_item] = api("refill", orders=str(kept))
    nothing = batch_item["refill"]
    assert batch_item == {"order": kept, "refill": nothing} and isinstance(nothing, int)
    assert api("refill", order=dropped) == {"error": "Refill is not available for this order"}  # one at a time
    seen: list[list[dict]] = []

    def finished():
        seen.append(api("refill_status", refills=f"{refill},{nothing}"))
        return all(item["status"] in ("Completed", "Rejected") for item in seen[-1])

    wait_for(finished, timeout=60, interval=0.2, message="both refills to finish")

    assert seen[-1] == [{"refill": refill, "status": "Completed"}, {"refill": nothing, "status": "Rejected"}]
    redelivery = [answer[0]["status"] for answer in seen]
    assert "In progress" in redelivery, redelivery  # 2.5 s of re-delivery, ticks every second
    steps = ["Pending", "In progress", "Completed"]
    assert [steps.index(status) for status in redelivery] == sorted(steps.index(status) for status in redelivery)
    assert {answer[1]["status"] for answer in seen} <= {"Pending", "Rejected"}
    assert api("refill_status", refill=refill) == {"status": "Completed"}
    assert list(Refill.objects.order_by("pk").values_list("order_id", "status", "quantity")) == [
        (dropped, RefillStatus.COMPLETED, 500), (kept, RefillStatus.REJECTED, 0),
    ]
    # Nothing more has dropped since the refill: a new one is taken and then rejected.
    again = api("refill", order=dropped)["refill"]
    wait_for(lambda: api("refill_status", refill=again) == {"status": "Rejected"}, timeout=30, interval=0.2,
             message="the second refill to be rejected")
    assert api("balance") == {"balance": "94.50", "currency": "TRY"}  # 5 + 0.5 charged; refills are free
