"""Forwarding against a stub provider over real HTTP: claim, `add`, record — and every failure's
documented state. The services run outside transactions (they refuse otherwise), so these tests
use transactional_db."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.service_types import ServiceType
from catalog.tests.factories import ServiceFactory
from orders import engine
from orders.models import HoldReason, Order, OrderEvent, OrderStatus
from orders.services import order_cancel, order_resend
from providers.forwarding import (
    forwarding_sweep_stale,
    order_forward,
    order_forward_confirm,
    order_forward_not_placed,
)
from providers.models import PermanentErrorPolicy
from providers.tests.forwarding_helpers import buyer, money_is_consistent, place, provider, refunds_of, resold  # noqa: F401
from providers.tests.stub_panel import Reply
from smmpanel.errors import DomainError, OrderNotCancelable

pytestmark = pytest.mark.postgres


def test_a_pending_order_is_submitted_once_and_moves_to_processing(panel, buyer, resold):
    panel.reply("add", {"order": 9001})
    order = place(buyer, resold, quantity=1500)
    assert order.provider_id == resold.provider_id
    assert order_forward(order_id=order.pk) == "placed"
    assert order_forward(order_id=order.pk) == "skipped"  # twice is safe: one claim, one `add`
    order.refresh_from_db()
    assert (order.status, order.provider_order_id, order.hold_reason) == (OrderStatus.PROCESSING, "9001", "")
    assert order.provider_submitted_at is not None
    [call] = panel.calls("add")
    assert {k: call.fields[k] for k in ("service", "link", "quantity")} == {
        "service": "501", "link": "https://instagram.com/forwarded", "quantity": "1500"
    }
    event = order.events.last()
    assert (event.old_status, event.new_status, event.actor) == ("Pending", "Processing", "provider:Upstream")
    assert order.provider.last_ok_at is not None


def test_drip_feed_sends_the_quantity_per_run_and_types_send_their_fields(panel, buyer, resold, provider):
    panel.reply("add", {"order": 1}, {"order": 2})
    resold.dripfeed = True
    resold.save()
    drip = place(buyer, resold, quantity=200, runs=3, interval=10)
    comments = ServiceFactory(
        type=ServiceType.CUSTOM_COMMENTS, provider=provider, provider_service_id="77", provider_rate=1, min_quantity=1,
    )
    typed = place(buyer, comments, link="https://instagram.com/p/x", comments="nice\ngreat")
    order_forward(order_id=drip.pk)
    order_forward(order_id=typed.pk)
    first, second = panel.calls("add")
    assert (drip.quantity, first.fields["quantity"], first.fields["runs"], first.fields["interval"]) == (600, "200", "3", "10")
    assert second.fields["comments"] == "nice\ngreat" and "quantity" not in second.fields


def test_an_unclear_answer_holds_the_order_and_nothing_resends_it(panel, buyer, resold):
    panel.reply("add", Reply(drop=True))
    order = place(buyer, resold)
    assert order_forward(order_id=order.pk) == "unknown"
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (OrderStatus.PENDING, HoldReason.NEEDS_CHECKING)
    assert order.provider_submitted_at is not None and order.provider_order_id is None
    with pytest.raises(DomainError, match="may have reached its provider"):
        order_resend(order_id=order.pk, actor="operator:op")
    engine.tick(now=timezone.now() + timedelta(hours=1))
    assert order_forward(order_id=order.pk) == "skipped"
    assert len(panel.calls("add")) == 1
    # The operator found it upstream: the id is kept and polling takes over.
    order_forward_confirm(order_id=order.pk, provider_order_id="4242", actor="operator:op")
    order.refresh_from_db()
    assert (order.status, order.provider_order_id, order.hold_reason) == (OrderStatus.PROCESSING, "4242", "")
    with pytest.raises(DomainError):
        order_forward_confirm(order_id=order.pk, provider_order_id="4243", actor="operator:op")


def test_not_placed_after_checking_submits_it_again(panel, buyer, resold):
    panel.reply("add", Reply(json={"order": 5}, delay=1.0))
    order = place(buyer, resold)
    from django.test import override_settings

    with override_settings(PROVIDER_READ_TIMEOUT_SECONDS=0.3):
        assert order_forward(order_id=order.pk) == "unknown"
    order_forward_not_placed(order_id=order.pk, actor="operator:op")
    order.refresh_from_db()
    assert (order.hold_reason, order.provider_submitted_at) == ("", None)
    panel.reply("add", {"order": 6})
    assert order_forward(order_id=order.pk) == "placed"
    order.refresh_from_db()
    assert order.provider_order_id == "6"


def test_out_of_funds_waits_on_hold_until_an_operator_resends_it(panel, buyer, resold):
    panel.reply("add", {"error": "Not enough funds on balance"})
    order = place(buyer, resold)
    balance = money_is_consistent(buyer.pk)
    assert order_forward(order_id=order.pk) == "out_of_funds"
    order.refresh_from_db()
    assert (order.status, order.hold_reason, order.provider_submitted_at) == (
        OrderStatus.PENDING, HoldReason.PROVIDER_OUT_OF_FUNDS, None
    )
    assert order_forward(order_id=order.pk) == "skipped"
    panel.reply("add", {"order": 77})
    order_resend(order_id=order.pk, actor="operator:op")  # after a top-up at the provider
    assert order_forward(order_id=order.pk) == "placed"
    assert len(panel.calls("add")) == 2
    assert money_is_consistent(buyer.pk) == balance  # charged once, nothing refunded


def test_a_temporary_error_retries_later_with_backoff(panel, buyer, resold, provider):
    panel.reply("add", {"error": "Too many requests, try later"}, {"order": 3})
    order = place(buyer, resold)
    assert order_forward(order_id=order.pk) == "retry"
    order.refresh_from_db()
    assert (order.provider_submitted_at, order.provider_failures, order.hold_reason) == (None, 1, "")
    assert order.provider_retry_at > timezone.now()
    assert order_forward(order_id=order.pk) == "skipped"  # not due yet
    provider.refresh_from_db()
    assert provider.consecutive_failures == 1
    assert order_forward(order_id=order.pk, now=order.provider_retry_at) == "placed"
    assert len(panel.calls("add")) == 2


@pytest.mark.parametrize("policy", [PermanentErrorPolicy.CANCEL, PermanentErrorPolicy.HOLD])
def test_a_permanent_refusal_cancels_with_a_refund_or_holds(panel, buyer, resold, provider, policy):
    provider.on_permanent_error = policy
    provider.save()
    panel.reply("add", {"error": "Invalid link"})
    order = place(buyer, resold)
    assert order_forward(order_id=order.pk) == "refused"
    assert order_forward(order_id=order.pk) == "skipped"
    order.refresh_from_db()
    if policy == PermanentErrorPolicy.CANCEL:
        assert order.status == OrderStatus.CANCELED
        assert refunds_of(order.pk) == [order.charge]
        assert money_is_consistent(buyer.pk) == Decimal("100")
    else:
        assert (order.status, order.hold_reason, order.provider_submitted_at) == (
            OrderStatus.PENDING, HoldReason.NEEDS_CHECKING, None
        )
        assert refunds_of(order.pk) == []
        order_resend(order_id=order.pk, actor="operator:op")  # definitely not placed: allowed
    assert len(panel.calls("add")) == 1


def test_an_inactive_provider_or_one_without_a_rate_gets_nothing(panel, buyer, resold, provider):
    order = place(buyer, resold)
    provider.is_active = False
    provider.save()
    assert order_forward(order_id=order.pk) == "waiting"
    provider.is_active, provider.currency, provider.exchange_rate = True, "USD", None
    provider.save()
    assert order_forward(order_id=order.pk) == "waiting"
    assert panel.calls("add") == []
    assert Order.objects.get(pk=order.pk).provider_submitted_at is None


def test_a_claim_whose_worker_died_is_held_by_the_sweep_never_resent(panel, buyer, resold):
    order = place(buyer, resold)
    claimed_at = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(provider_submitted_at=claimed_at)
    assert forwarding_sweep_stale(now=claimed_at + timedelta(seconds=10)) == 0  # within the grace period
    assert engine.tick()["forwards_held"] == 1
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (OrderStatus.PENDING, HoldReason.NEEDS_CHECKING)
    assert order_forward(order_id=order.pk) == "skipped"
    assert panel.calls("add") == []


def test_the_simulated_engine_never_touches_provider_orders(panel, buyer, resold):
    from orders.services import order_start

    order = place(buyer, resold)
    simulated = place(buyer, ServiceFactory(start_delay_seconds=0), link="https://instagram.com/sim")
    assert order_start(order_id=order.pk) is None
    assert order_start(order_id=simulated.pk).status == OrderStatus.IN_PROGRESS
    engine.tick(now=timezone.now() + timedelta(hours=1))
    order.refresh_from_db()
    assert (order.status, order.sim_speed, order.deliver_from) == (OrderStatus.PENDING, None, None)
    assert Order.objects.get(pk=simulated.pk).status == OrderStatus.COMPLETED


def test_a_cancel_before_submission_is_local_and_forwarding_then_skips_it(panel, buyer, resold):
    order = place(buyer, resold)
    order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")
    assert order_forward(order_id=order.pk) == "skipped"
    assert panel.calls("add") == []
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED
    assert money_is_consistent(buyer.pk) == Decimal("100")


def test_a_cancel_while_the_add_is_on_its_way_is_refused(panel, buyer, resold):
    order = place(buyer, resold)
    Order.objects.filter(pk=order.pk).update(provider_submitted_at=timezone.now())
    with pytest.raises(OrderNotCancelable):
        order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")
    assert OrderEvent.objects.filter(order_id=order.pk).count() == 1


def test_workers_racing_for_one_order_submit_it_once(panel, buyer, resold):
    import threading

    from django.db import connection

    panel.reply("add", Reply(json={"order": 808}, delay=0.3))
    order = place(buyer, resold)
    results: list[str] = []

    def worker():
        try:
            results.append(order_forward(order_id=order.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["placed", "skipped", "skipped", "skipped"]
    assert len(panel.calls("add")) == 1
    assert Order.objects.get(pk=order.pk).provider_order_id == "808"


def test_an_order_being_submitted_is_not_the_operators_to_resolve(panel, buyer, resold):
    order = place(buyer, resold)
    Order.objects.filter(pk=order.pk).update(provider_submitted_at=timezone.now())  # `add` on its way
    for resolve in (
        lambda: order_forward_not_placed(order_id=order.pk, actor="operator:op"),
        lambda: order_forward_confirm(order_id=order.pk, provider_order_id="1", actor="operator:op"),
    ):
        with pytest.raises(DomainError, match="Only an order on hold"):
            resolve()
    order.refresh_from_db()
    assert order.provider_submitted_at is not None and order.provider_order_id is None


def test_the_tick_leaves_forwarded_orders_in_flight_to_polling(panel, buyer, resold):
    panel.reply("add", {"order": 64})
    order = place(buyer, resold)
    order_forward(order_id=order.pk)
    in_progress = place(buyer, resold, link="https://instagram.com/started")
    panel.reply("add", {"order": 65})
    order_forward(order_id=in_progress.pk)
    Order.objects.filter(pk=in_progress.pk).update(status=OrderStatus.IN_PROGRESS, remains=700)
    moved = engine.tick(now=timezone.now() + timedelta(hours=1))
    assert (moved.get("started", 0), moved.get("advanced", 0), moved.get("completed", 0)) == (0, 0, 0)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PROCESSING
    assert Order.objects.filter(pk=in_progress.pk).values_list("status", "remains").get() == (OrderStatus.IN_PROGRESS, 700)
