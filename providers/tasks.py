"""Celery tasks for providers: thin wrappers that take ids and call a service. All idempotent.

Forwarding itself runs in orders.tasks.order_start (the wake-up every new order gets), which hands
provider-backed orders to providers.forwarding.
"""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from providers import passon, polling
from providers.catalog_sync import provider_catalog_sync_logged, providers_catalog_sync_due
from providers.errors import ProviderTemporaryError

CANCEL_RETRIES = 5


# Beat's entry point: one task per active provider, so a slow provider delays only itself and
# each task stays well inside the time limits. Not redelivered when its worker dies: the next
# run does the same work.
@shared_task(acks_late=False)
def providers_catalog_sync() -> int:
    provider_ids = providers_catalog_sync_due()
    for provider_id in provider_ids:
        provider_catalog_sync.apply_async((provider_id,), expires=settings.PROVIDER_SYNC_SECONDS)
    return len(provider_ids)


# A `services` answer can take the whole read timeout per read: more room than the default limits.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=240, time_limit=300)
def provider_catalog_sync(provider_id: int) -> str:
    return provider_catalog_sync_logged(provider_id=provider_id)


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
