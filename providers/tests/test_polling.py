"""Polling against a stub provider over real HTTP: statuses mapped through the lifecycle table,
counts copied, Partial and Canceled refunded exactly once; cancels and refills passed on."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from orders.models import HoldReason, Order, OrderStatus, Refill, RefillStatus
from orders.services import order_cancel
from orders.services.refills import refill_request
from accounts.services import ledger_post
from providers import passon
from providers.forwarding import order_forward
from providers.polling import providers_poll
from providers.tests.stub_panel import Reply
from providers.tests.forwarding_helpers import buyer, money_is_consistent, place, provider, refunds_of, resold  # noqa: F401
from smmpanel.errors import OrderNotCancelable

pytestmark = pytest.mark.postgres


def forwarded(panel, buyer, resold, *, upstream_id: int, link: str = "https://instagram.com/polled", quantity=1000):
    panel.reply("add", {"order": upstream_id})
    order = place(buyer, resold, link=link, quantity=quantity)
    assert order_forward(order_id=order.pk) == "placed"
    return order


def answer(**by_id):
    """A status reply: the upstream id → its entry (`"error"` for Order not found)."""
    return {key.lstrip("_"): value for key, value in by_id.items()}


def test_status_start_count_and_remains_are_mirrored_until_completed(panel, buyer, resold):
    order = forwarded(panel, buyer, resold, upstream_id=11)
    panel.reply(
        "status",
        answer(_11={"status": "Processing", "charge": "4.00", "start_count": "0", "remains": "1000", "currency": "TRY"}),
        answer(_11={"status": "inprogress", "charge": "4.00", "start_count": 350, "remains": 600, "currency": "TRY"}),
        answer(_11={"status": "In progress", "charge": "4.00", "start_count": 350, "remains": 700}),  # goes up: ignored
        answer(_11={"status": "Completed", "charge": "4.00", "start_count": 350, "remains": 0}),
    )
    seen = []
    for _ in range(5):
        providers_poll()
        order.refresh_from_db()
        seen.append((order.status, order.start_count, order.remains, order.provider_status))
    assert seen == [
        ("Processing", 0, 1000, "Processing"),
        ("In progress", 350, 600, "inprogress"),
        ("In progress", 350, 600, "In progress"),
        ("Completed", 350, 0, "Completed"),
        ("Completed", 350, 0, "Completed"),  # terminal: no longer polled
    ]
    assert len(panel.calls("status")) == 4
    assert order.cost == Decimal("4.00000") and order.provider_checked_at is not None
    assert refunds_of(order.pk) == []
    money_is_consistent(buyer.pk)


def test_partial_refunds_the_undelivered_part_once(panel, buyer, resold):
    order = forwarded(panel, buyer, resold, upstream_id=12, quantity=2000)  # charge 10.00
    panel.reply("status", answer(_12={"status": "Partial", "charge": "8", "start_count": 10, "remains": "500"}))
    providers_poll()
    providers_poll()
    order.refresh_from_db()
    assert (order.status, order.remains) == (OrderStatus.PARTIAL, 500)
    assert refunds_of(order.pk) == [Decimal("2.50000")]
    assert money_is_consistent(buyer.pk) == Decimal("92.50")
    # The provider refunds us its undelivered quarter too: the order cost 8.00 - 2.00.
    assert order.cost == Decimal("6.00000")


def test_canceled_upstream_refunds_in_full_or_ends_partial_after_delivery_started(panel, buyer, resold):
    waiting = forwarded(panel, buyer, resold, upstream_id=13, link="https://instagram.com/a")
    started = forwarded(panel, buyer, resold, upstream_id=14, link="https://instagram.com/b")
    Order.objects.filter(pk=started.pk).update(status=OrderStatus.IN_PROGRESS, remains=800)
    Order.objects.filter(pk=started.pk).update(cost=Decimal("4"))  # its charge, from an earlier answer
    panel.reply("status", answer(_13={"status": "Cancelled", "charge": "4.00"}, _14={"status": "Canceled", "remains": 800}))
    providers_poll()
    providers_poll()
    waiting.refresh_from_db()
    started.refresh_from_db()
    assert waiting.status == OrderStatus.CANCELED and refunds_of(waiting.pk) == [Decimal("5.00000")]
    assert started.status == OrderStatus.PARTIAL and refunds_of(started.pk) == [Decimal("4.00000")]
    assert waiting.cost == started.cost == 0  # a provider that cancels refunds its whole charge
    money_is_consistent(buyer.pk)


def test_order_not_found_is_held_and_a_failing_provider_changes_nothing(panel, buyer, resold, provider):
    lost = forwarded(panel, buyer, resold, upstream_id=15, link="https://instagram.com/lost")
    fine = forwarded(panel, buyer, resold, upstream_id=16, link="https://instagram.com/fine")
    fine.refresh_from_db()
    panel.reply("status", Reply(body=b"<html>502 Bad Gateway</html>", status=502))
    assert providers_poll() == {"errors": 1}
    provider.refresh_from_db()
    assert provider.consecutive_failures == 1
    assert Order.objects.get(pk=fine.pk).provider_checked_at == fine.provider_checked_at  # as when accepted
    unclear = forwarded(panel, buyer, resold, upstream_id=17, link="https://instagram.com/unclear")
    panel.reply("status", answer(_15={"error": "Order not found"}, _16={"status": "Pending"}, _17={"status": "Partial"}))
    providers_poll()
    lost.refresh_from_db()
    fine.refresh_from_db()
    unclear.refresh_from_db()
    assert (lost.status, lost.hold_reason) == (OrderStatus.PROCESSING, HoldReason.NEEDS_CHECKING)
    assert (fine.status, fine.hold_reason, fine.provider_status) == (OrderStatus.PROCESSING, "", "Pending")
    assert (unclear.status, unclear.hold_reason) == (OrderStatus.PROCESSING, HoldReason.NEEDS_CHECKING)
    assert refunds_of(unclear.pk) == []


@override_settings(PROVIDER_POLL_MAX_ORDERS=150)
def test_status_is_asked_100_ids_per_call_and_bounded_per_run(panel, buyer, resold):
    ledger_post(account_id=buyer.pk, amount=Decimal("1000"), kind="deposit")
    panel.reply("add", lambda fields: {"order": int(fields["link"].rsplit("/", 1)[1]) + 1000})
    for n in range(160):
        order = place(buyer, resold, link=f"https://instagram.com/{n}", quantity=100)
        order_forward(order_id=order.pk)
    panel.reply("status", lambda fields: {i: {"status": "Processing"} for i in fields["orders"].split(",")})
    counts = providers_poll()
    assert counts["checked"] == 150
    assert [len(call.fields["orders"].split(",")) for call in panel.calls("status")] == [100, 50]
    providers_poll()  # the least recently checked come first: the 10 left out, then the oldest
    assert panel.calls("status")[2].fields["orders"].split(",")[:10] == [str(1000 + n) for n in range(150, 160)]


def test_a_cancel_of_a_forwarded_order_is_passed_on_and_ends_canceled_when_the_provider_says(panel, buyer, resold):
    order = forwarded(panel, buyer, resold, upstream_id=21)
    canceled = order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")
    assert canceled.status == OrderStatus.PROCESSING and refunds_of(order.pk) == []
    with pytest.raises(OrderNotCancelable):  # asked already
        order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")
    panel.reply("cancel", [{"order": 21, "cancel": 1}])
    assert passon.order_cancel_pass_on(order_id=order.pk) == "accepted"
    assert panel.calls("cancel")[0].fields["orders"] == "21"
    panel.reply("status", answer(_21={"status": "Canceled", "remains": 1000}))
    providers_poll()
    providers_poll()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED and refunds_of(order.pk) == [order.charge]
    assert money_is_consistent(buyer.pk) == Decimal("100")


def test_a_refused_cancel_upstream_lets_the_reseller_ask_again(panel, buyer, resold):
    order = forwarded(panel, buyer, resold, upstream_id=22)
    order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")
    panel.reply("cancel", [{"order": 22, "cancel": {"error": "Order cannot be canceled"}}])
    assert passon.order_cancel_pass_on(order_id=order.pk) == "refused"
    order.refresh_from_db()
    assert order.provider_cancel_requested_at is None and order.status == OrderStatus.PROCESSING
    assert "refused the cancel" in order.events.last().reason


def test_a_refill_is_passed_on_and_mirrored(panel, buyer, resold):
    order = forwarded(panel, buyer, resold, upstream_id=31)
    panel.reply("status", answer(_31={"status": "Completed", "remains": 0}))
    providers_poll()
    refill = refill_request(account=buyer, order_id=order.pk)
    panel.reply("refill", {"refill": 7})
    assert passon.refill_forward(refill_id=refill.pk) == "sent"
    assert passon.refill_forward(refill_id=refill.pk) == "skipped"
    assert panel.calls("refill")[0].fields["order"] == "31"
    panel.reply("refill_status", {"status": "In progress"}, {"status": "Completed"})
    passon.refills_poll()
    assert Refill.objects.get(pk=refill.pk).status == RefillStatus.IN_PROGRESS
    passon.refills_poll()
    refill.refresh_from_db()
    assert (refill.status, refill.provider_refill_id) == (RefillStatus.COMPLETED, "7")


def test_a_cancel_whose_task_was_lost_is_sent_again_until_accepted(panel, buyer, resold):
    from datetime import timedelta

    from django.utils import timezone

    order = forwarded(panel, buyer, resold, upstream_id=23)
    order_cancel(account=buyer, order_id=order.pk, actor="api:buyer")  # its task never ran
    later = timezone.now() + timedelta(minutes=10)
    assert passon.cancels_resend() == {}  # not yet: its own task may still be retrying
    panel.reply("cancel", {"error": "Too many requests"}, [{"order": 23, "cancel": 1}])
    assert passon.cancels_resend(now=later) == {"cancel_errors": 1}
    assert passon.cancels_resend(now=later) == {"cancels_accepted": 1}
    assert passon.cancels_resend(now=later) == {}  # accepted: not again
    order.refresh_from_db()
    assert order.provider_cancel_sent_at is not None and len(panel.calls("cancel")) == 2
