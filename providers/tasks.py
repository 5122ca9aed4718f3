"""Celery tasks for providers: thin wrappers that take ids and call a service. All idempotent.

Forwarding itself runs in orders.tasks.order_start (the wake-up every new order gets), which hands
provider-backed orders to providers.forwarding.
"""
from __future__ import annotations

from celery import shared_task

from providers import passon, polling
from providers.errors import ProviderTemporaryError

CANCEL_RETRIES = 5


# Not redelivered when its worker dies: the next run, seconds later, does the same work.
@shared_task(acks_late=False)
def providers_poll() -> dict[str, int]:
    counts = polling.providers_poll()
    counts.update(passon.refills_poll())
    counts.update(passon.cancels_resend())
    return counts


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=CANCEL_RETRIES)
def order_cancel_upstream(self, order_id: int) -> str:
    """Pass a reseller's cancel on to the provider (sent after the cancel commits)."""
    try:
        return passon.order_cancel_pass_on(order_id=order_id)
    except ProviderTemporaryError as exc:
        # Short countdowns, far inside the broker's visibility timeout.
        raise self.retry(exc=exc, countdown=min(60, 5 * 2 ** self.request.retries)) from None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def refill_forward(refill_id: int) -> str:
    """Pass a new refill of a forwarded order on to the provider; refills_poll retries a failed send."""
    return passon.refill_forward(refill_id=refill_id)
