"""Celery tasks: thin wrappers that take ids and call a service. All idempotent."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from orders import engine
from orders.models import Order
from orders.services import order_attempt_begin
from orders.services import order_start as order_start_service
from providers.forwarding import order_forward


@shared_task(acks_late=True, reject_on_worker_lost=True)
def order_start(order_id: int) -> None:
    """Pick up a newly placed order (sent after its commit, and again by the tick if lost): the
    simulated engine's, or forwarded to its provider (outside any transaction)."""
    if order_attempt_begin(order_id=order_id, max_attempts=settings.FULFILLMENT_MAX_ATTEMPTS, actor="worker"):
        if Order.objects.filter(pk=order_id, provider__isnull=False).exists():
            order_forward(order_id=order_id)
        else:
            order_start_service(order_id=order_id)


# Not redelivered when its worker dies: the next tick, seconds later, does the same work.
@shared_task(acks_late=False)
def fulfillment_tick() -> dict[str, int]:
    return engine.tick()
