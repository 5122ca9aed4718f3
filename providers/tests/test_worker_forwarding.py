"""Real Celery workers forwarding to a stub provider: a worker killed in the middle of `add` leaves
the order held `needs_checking`, never submitted a second time."""
from __future__ import annotations

import signal

import pytest

from orders.models import HoldReason, Order, OrderStatus
from orders.tests.live_processes import private_redis, processes, wait_for  # noqa: F401 - fixtures
from providers.tests.forwarding_helpers import buyer, place, provider, resold  # noqa: F401
from providers.tests.stub_panel import Reply

pytestmark = pytest.mark.postgres

WORKER_ENV = {"PROVIDER_SUBMIT_GRACE_SECONDS": "2", "PROVIDER_READ_TIMEOUT_SECONDS": "60"}


def test_a_worker_killed_during_add_leaves_the_order_held_and_never_resent(processes, panel, buyer, resold):
    panel.reply("add", Reply(json={"order": 1}, delay=30))  # the provider takes its time
    first = processes.worker(env=WORKER_ENV)
    order = place(buyer, resold)
    wait_for(lambda: panel.calls("add"), timeout=60, message="the add call")
    first.kill_group(signal.SIGKILL)  # dies between the claim and the answer
    processes.worker(env=WORKER_ENV)
    processes.beat(env=WORKER_ENV)
    wait_for(
        lambda: Order.objects.get(pk=order.pk).hold_reason == HoldReason.NEEDS_CHECKING,
        timeout=60, message="the sweep to hold the order",
    )
    order.refresh_from_db()
    assert (order.status, order.provider_order_id) == (OrderStatus.PENDING, None)
    assert order.provider_submitted_at is not None
    assert len(panel.calls("add")) == 1
    assert order.events.last().reason.startswith("hold: submitted to the provider, no answer recorded")
