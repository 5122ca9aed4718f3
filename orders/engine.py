"""The fulfillment tick: advances every due order in batches with set-based statements.

The database is the source of truth; the broker only carries wake-ups. Each batch claims its
rows with `SELECT … FOR UPDATE SKIP LOCKED`, so any number of workers (or a second beat by
mistake) share the work without doing it twice, and progress is computed from elapsed time, so
a repeated tick never delivers twice.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from orders.models import FulfillmentTick, Order, OrderStatus
from orders.services import orders_move
from orders.services.refills import refills_advance
from orders.sql import AdvancedBatch, advance_batch_returning, remains_at
from orders.wakeups import wake_now
from providers.forwarding import forwarding_sweep_stale
from providers.models import Provider

logger = logging.getLogger(__name__)
ACTOR = "worker"
RESEND_LIMIT = 1000  # lost wake-ups re-sent per tick


def _due_ids(status: str, **filters) -> list[int]:
    # Simulated orders only: provider-backed ones move when polling mirrors the provider.
    return list(
        Order.objects.filter(status=status, hold_reason="", provider__isnull=True, **filters)
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.FULFILLMENT_BATCH_SIZE]
    )


def resend_lost_wakeups(*, now: datetime) -> int:
    """Pending orders nobody picked up within a tick interval get their wake-up again: simulated
    ones, and provider-backed ones due for forwarding (not claimed, past any retry backoff, their
    provider active — an inactive provider's orders wait without a wake-up every tick)."""
    stale_before = now - timedelta(seconds=settings.FULFILLMENT_TICK_SECONDS)
    # A subquery, not a join: FOR UPDATE cannot lock the nullable side of an outer join.
    active_providers = (
        Provider.objects.filter(is_active=True)
        .filter(Q(currency=settings.PANEL_CURRENCY) | Q(exchange_rate__isnull=False))
        .values("pk")
    )
    forwardable = (
        Q(provider_id__in=active_providers, provider_submitted_at__isnull=True)
        & (Q(provider_retry_at__isnull=True) | Q(provider_retry_at__lte=now))
    )
    with transaction.atomic():
        ids = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=OrderStatus.PENDING, hold_reason="", updated_at__lt=stale_before)
            .filter(Q(provider__isnull=True) | forwardable)
            .order_by("pk")
            .values_list("pk", flat=True)[:RESEND_LIMIT]
        )
        # Touching updated_at spaces the re-sends of one order a tick interval apart.
        Order.objects.filter(pk__in=ids).update(updated_at=now)
    return wake_now(ids)


def start_due_deliveries(*, now: datetime, deadline: float) -> int:
    """Processing orders whose start delay is over begin delivering (In progress)."""
    started = 0
    while time.monotonic() < deadline:
        ids = _due_ids(OrderStatus.PROCESSING, deliver_from__lte=now)
        if not ids:
            break
        moved = orders_move(
            order_ids=ids, old_status=OrderStatus.PROCESSING, new_status=OrderStatus.IN_PROGRESS,
            reason="delivery started", actor=ACTOR, now=now, changes={"start_count": F("sim_start_count")},
        )
        started += len(moved)
        if not moved:  # all locked by someone else right now
            break
    return started


def _advance_batch_portable(*, now: datetime, after_pk: int, limit: int) -> AdvancedBatch:
    """The ORM twin of orders.sql.advance_batch_returning, for SQLite (where the IMMEDIATE
    transaction holds the database's write lock, and select_for_update is a no-op)."""
    ids = list(
        Order.objects.select_for_update(skip_locked=True)
        .filter(status=OrderStatus.IN_PROGRESS, hold_reason="", provider__isnull=True, pk__gt=after_pk)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return AdvancedBatch(0, after_pk, [], [])
    Order.objects.filter(pk__in=ids).update(
        remains=remains_at(now_epoch=now.timestamp(), minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS),
        updated_at=now,
    )
    finished = Order.objects.filter(pk__in=ids, remains__lte=F("quantity") - F("sim_limit")).order_by("pk")
    completed_ids, partial_ids = [], []
    for pk, limit_units, quantity in finished.values_list("pk", "sim_limit", "quantity"):
        (completed_ids if limit_units >= quantity else partial_ids).append(pk)
    return AdvancedBatch(len(ids), ids[-1], completed_ids, partial_ids)


def advance_deliveries(*, now: datetime, deadline: float) -> Counter:
    """Recompute `remains` of every In progress order from elapsed time; finish those done.

    Each batch claims its rows (FOR UPDATE SKIP LOCKED) and advances them in one transaction;
    on PostgreSQL that is a single UPDATE … RETURNING (see orders.sql), elsewhere the ORM.
    """
    counts: Counter = Counter()
    last_pk = 0
    advance_batch = (
        advance_batch_returning if connection.vendor == "postgresql" else _advance_batch_portable
    )
    # A refund locks accounts before orders, so short orders go Partial after their batch let go
    # of its rows, gathered over several batches: one orders_move, one lock per account.
    partial_ids: list[int] = []

    def end_partial() -> None:
        counts["partial"] += len(
            orders_move(
                order_ids=partial_ids, old_status=OrderStatus.IN_PROGRESS,
                new_status=OrderStatus.PARTIAL, reason="delivery stopped short", actor=ACTOR, now=now,
            )
        )
        partial_ids.clear()

    while time.monotonic() < deadline:
        with transaction.atomic():
            batch = advance_batch(now=now, after_pk=last_pk, limit=settings.FULFILLMENT_BATCH_SIZE)
            if not batch.advanced:
                break
            last_pk = batch.last_pk
            if batch.completed_ids:
                orders_move(
                    order_ids=batch.completed_ids, old_status=OrderStatus.IN_PROGRESS,
                    new_status=OrderStatus.COMPLETED, reason="delivered", actor=ACTOR, now=now,
                )
            counts["advanced"] += batch.advanced
            counts["completed"] += len(batch.completed_ids)
        partial_ids.extend(batch.partial_ids)
        if len(partial_ids) >= settings.FULFILLMENT_BATCH_SIZE:
            end_partial()
    if partial_ids:
        end_partial()
    return counts


def tick(*, now: datetime | None = None) -> dict[str, int]:
    """One pass over all due work, bounded in time; records itself for `fulfillment_status`."""
    started_at = timezone.now()
    now = now or started_at
    began = time.monotonic()
    deadline = began + settings.FULFILLMENT_TICK_BUDGET_SECONDS
    moved: Counter = Counter()
    moved["wakeups_resent"] = resend_lost_wakeups(now=now)
    moved["forwards_held"] = forwarding_sweep_stale(now=now)
    moved["started"] = start_due_deliveries(now=now, deadline=deadline)
    moved.update(advance_deliveries(now=now, deadline=deadline))
    moved.update(refills_advance(now=now))
    duration_ms = int((time.monotonic() - began) * 1000)
    FulfillmentTick.objects.update_or_create(
        pk=1,
        defaults={"started_at": started_at, "finished_at": timezone.now(), "duration_ms": duration_ms, "moved": moved},
    )
    if time.monotonic() >= deadline:
        logger.warning("Fulfillment tick hit its %ss budget; the next tick continues", settings.FULFILLMENT_TICK_BUDGET_SECONDS)
    return dict(moved)
