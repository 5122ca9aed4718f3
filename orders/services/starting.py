"""Picking up a Pending order for the simulated engine."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from orders import simulation
from orders.models import Order, OrderStatus
from orders.services.transitions import apply_transition


def order_start(*, order_id: int, now: datetime | None = None, actor: str = "worker") -> Order | None:
    """Pick up a Pending order for simulated delivery: fix its plan and move it to Processing, and
    on to In progress when its service has no start delay. Locks the order; a repeat is a no-op.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("service")
            # Provider-backed orders are forwarded (providers.forwarding), never simulated.
            .filter(pk=order_id, status=OrderStatus.PENDING, hold_reason="", provider__isnull=True)
            .first()
        )
        if order is None:
            return None
        service = order.service
        delivered_earlier = (
            Order.objects.filter(
                service_id=service.pk, link_normalized=order.link_normalized, pk__lt=order.pk
            ).aggregate(units=Sum(F("quantity") - F("remains")))["units"]
            or 0
        )
        order.deliver_from = now + timedelta(seconds=service.start_delay_seconds)
        order.sim_speed = service.speed_per_minute
        order.sim_limit = simulation.delivery_limit(
            order_id=order.pk, quantity=order.quantity, shortfall_percent=service.shortfall_percent
        )
        order.sim_start_count = simulation.base_count(order.link_normalized) + delivered_earlier
        order.attempts = 0
        plan = ["deliver_from", "sim_speed", "sim_limit", "sim_start_count", "attempts"]
        apply_transition(
            order=order, new_status=OrderStatus.PROCESSING, reason="picked up", actor=actor, also_save=plan
        )
        if order.deliver_from <= now:
            order.start_count = order.sim_start_count
            apply_transition(
                order=order,
                new_status=OrderStatus.IN_PROGRESS,
                reason="delivery started",
                actor=actor,
                also_save=["start_count"],
            )
    return order
