"""A start task that kills its worker every time is parked after a few attempts, not retried forever."""
from __future__ import annotations

import re

import pytest
from django.conf import settings

from catalog.tests.factories import ServiceFactory
from orders.models import FulfillmentTick, HoldReason, Order, OrderStatus
from orders.tests.live_processes import Process, wait_for

pytestmark = pytest.mark.postgres

MARKER = "poison-7c1e"


def deaths(worker: Process) -> int:
    """Pool processes the poisoned start killed, as the worker's main process logged them."""
    return worker.log().count("exited with 'exitcode 1'")


def wait_for_ticks(*, after, count: int) -> None:
    """Poll until `count` fulfillment ticks have started after `after` (one row, rewritten per tick)."""
    seen = set()

    def enough() -> bool:
        seen.update(FulfillmentTick.objects.filter(started_at__gt=after).values_list("started_at", flat=True))
        return len(seen) >= count

    wait_for(enough, timeout=30, interval=0.1, message=f"{count} ticks")


def test_a_start_that_kills_its_worker_parks_the_order(processes, api):
    service = ServiceFactory(start_delay_seconds=0, speed_per_minute=6000)
    worker = processes.worker("--include", "orders.tests.poison_hook", env={"POISON_LINK_MARKER": MARKER})
    processes.beat()

    poisoned = api("add", service=service.pk, link=f"https://instagram.com/{MARKER}", quantity=100)["order"]
    healthy = api("add", service=service.pk, link="https://instagram.com/healthy", quantity=100)["order"]

    wait_for(
        lambda: Order.objects.filter(pk=poisoned, hold_reason=HoldReason.PARKED).exists(),
        timeout=60, interval=0.2, message="the poisoned order to be parked",
    )
    wait_for(
        lambda: Order.objects.filter(pk=healthy, status=OrderStatus.COMPLETED).exists(),
        timeout=30, interval=0.2, message="the healthy order to complete",
    )
    # Deliveries of the start task began and killed their pool process (the main process notices a
    # dead child a moment later) until one found the attempts used up and parked the order. The
    # wake-up and the tick's re-send may both be in flight and count together, so it can take
    # fewer deaths than MAX_ATTEMPTS, never more.
    wait_for(lambda: deaths(worker) >= 1, timeout=30, message="a pool death")
    # Two more ticks after the parking: nothing re-sends, re-starts or re-counts a parked order.
    parked_at = Order.objects.get(pk=poisoned).events.get(reason__startswith="hold: parked").created_at
    wait_for_ticks(after=parked_at, count=2)

    order = Order.objects.get(pk=poisoned)
    assert order.status == OrderStatus.PENDING and order.hold_reason == HoldReason.PARKED
    # Every delivery that began counted; two that begin together may both count past the limit.
    assert order.attempts > settings.FULFILLMENT_MAX_ATTEMPTS
    # Only the start task moves a Pending order on, so nothing else started it: no Processing.
    placed, parked = order.events.values_list("old_status", "new_status", "reason")
    assert placed == ("", "Pending", "placed")
    counted = re.fullmatch(r"hold: parked after (\d+) unfinished attempts", parked[2])
    assert parked[:2] == ("Pending", "Pending") and counted, parked
    assert int(counted[1]) >= settings.FULFILLMENT_MAX_ATTEMPTS
    assert api("status", order=poisoned)["status"] == "Pending"  # a hold is not a status

    # The worker survived its pool processes' deaths and still takes new work.
    assert worker.alive(), worker.log()
    later = api("add", service=service.pk, link="https://instagram.com/later", quantity=100)["order"]
    wait_for(
        lambda: Order.objects.filter(pk=later, status=OrderStatus.COMPLETED).exists(),
        timeout=30, interval=0.2, message="an order placed after the parking to complete",
    )
    assert worker.alive() and 1 <= deaths(worker) <= settings.FULFILLMENT_MAX_ATTEMPTS, worker.log()
    assert Order.objects.get(pk=poisoned).events.count() == 2
