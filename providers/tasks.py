"""Celery tasks for providers: thin wrappers that call a service. All idempotent."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from providers.catalog_sync import provider_catalog_sync_logged, providers_catalog_sync_due


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
