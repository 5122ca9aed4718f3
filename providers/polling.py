"""Polling: mirror what providers say about our forwarded orders, in batches of 100 ids per call.

One run walks each provider's active forwarded orders (Processing, In progress; no hold; with a
provider id), least recently checked first, at most PROVIDER_POLL_MAX_ORDERS per provider. Per
call of up to 100 ids, outside any transaction:

1. `status` at the provider (a failing call records the provider's health and leaves the orders
   as they are; the next run asks again);
2. one short transaction copies what it said — `start_count`, `remains` (never up, like the
   simulated engine), `provider_status`, `provider_checked_at`, and `cost` (the provider's charge,
   less what it refunds when it reports Partial or Canceled) — with one bulk UPDATE over the rows
   it could lock;
3. the moves the answers call for go through orders_move (the lifecycle table; accounts locked
   before orders; refunds through the ledger, whose unique constraint makes a second refund of an
   order impossible), one statement per (from, to) pair.

An order the provider does not know (`Order not found`), reports as failed, or reports Partial
without saying how much remains is held `needs_checking` for an operator.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orders.models import HoldReason, Order, OrderStatus
from orders.services.transitions import order_hold, orders_move
from providers.client import BATCH_SIZE, UpstreamStatus, client_for
from providers.errors import ProviderError
from providers.forwarding import provider_actor
from providers.models import Provider
from providers.pricing import final_cost, panel_amount
from providers.services import provider_health_record

logger = logging.getLogger(__name__)
S = OrderStatus
POLLED = (S.PROCESSING, S.IN_PROGRESS)
PROVIDER_STATUS_LENGTH = Order._meta.get_field("provider_status").max_length


def target_status(current: str, upstream: UpstreamStatus) -> str | None:
    """Where the provider's answer moves an order of ours that is `current`; None: stay.

    The provider's Canceled after delivery started cannot be our Canceled (the lifecycle table
    has no In progress → Canceled): it ends Partial, refunding what was not delivered.
    """
    said = upstream.status
    if said in (S.COMPLETED, S.PARTIAL):
        return said
    if said == S.CANCELED:
        return S.CANCELED if current == S.PROCESSING else S.PARTIAL
    if current == S.PROCESSING and said is not None and (said == S.IN_PROGRESS or (upstream.start_count or 0) > 0):
        return S.IN_PROGRESS
    return None


def _mirror(*, provider: Provider, answers: dict[int, UpstreamStatus], now: datetime) -> dict[int, str]:
    """Copy the answers onto the orders still polled, under row locks; returns each locked order's status."""
    rate = provider.panel_exchange_rate
    with transaction.atomic():
        # Orders only, no account: nothing here moves money, so the lock order is not at stake.
        orders = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk__in=answers, status__in=POLLED, hold_reason="")
            .order_by("pk")
            .only("pk", "status", "quantity", "remains", "start_count", "cost")
        )
        for order in orders:
            upstream = answers[order.pk]
            if upstream.start_count is not None:
                order.start_count = max(0, upstream.start_count)
            if upstream.remains is not None:
                order.remains = max(0, min(order.remains, upstream.remains, order.quantity))
            order.provider_status = upstream.raw_status[:PROVIDER_STATUS_LENGTH]
            order.provider_checked_at = now
            # The provider's gross charge, kept from its first mention; what it refunds when the
            # order ends Partial or Canceled comes off when that answer comes (polling stops then).
            charged = order.cost
            if upstream.charge is not None and rate is not None:
                charged = panel_amount(amount=upstream.charge, exchange_rate=rate)
            order.cost = final_cost(charged=charged, said=upstream.status, quantity=order.quantity, remains=upstream.remains)
            order.updated_at = now
        Order.objects.bulk_update(
            orders, ["start_count", "remains", "provider_status", "provider_checked_at", "cost", "updated_at"]
        )
    return {order.pk: order.status for order in orders}


def _apply(*, provider: Provider, batch: list[tuple[int, str]], answers: dict[str, UpstreamStatus], now: datetime) -> Counter:
    counts: Counter = Counter()
    actor = provider_actor(provider)
    known: dict[int, UpstreamStatus] = {}
    for pk, upstream_id in batch:
        upstream = answers.get(upstream_id)
        if upstream is None:  # left out of the answer: ask again next time
            continue
        # A Partial without remains cannot say what to refund: an operator asks the provider.
        unclear_partial = upstream.status == S.PARTIAL and upstream.remains is None
        if upstream.error or upstream.failed or unclear_partial:
            what = upstream.error or f"status {upstream.raw_status}" + (" without remains" if unclear_partial else "")
            counts["held"] += order_hold(
                order_id=pk, hold_reason=HoldReason.NEEDS_CHECKING, actor=actor,
                reason=f"provider says about #{upstream_id}: {what}"[:490],
            )
            continue
        known[pk] = upstream
    statuses = _mirror(provider=provider, answers=known, now=now)
    counts["checked"] += len(statuses)
    moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, current in statuses.items():
        if (new := target_status(current, known[pk])) is not None:
            moves[(current, new)].append(pk)
    for (old, new), ids in sorted(moves.items()):
        moved = orders_move(
            order_ids=ids, old_status=old, new_status=new, actor=actor, now=now,
            reason=f"provider reports {new}" if new != S.PARTIAL or old == S.PROCESSING else "provider reports it ended short",
        )
        counts[str(new)] += len(moved)
    return counts


def provider_poll(*, provider: Provider, limit: int, now: datetime | None = None) -> Counter:
    """One provider's forwarded orders, least recently checked first, `limit` at most."""
    if connection.in_atomic_block:
        raise RuntimeError("polling calls a provider: it must run outside any transaction")
    now = now or timezone.now()
    counts: Counter = Counter()
    rows = list(
        Order.objects.filter(
            provider=provider, status__in=POLLED, hold_reason="", provider_order_id__isnull=False
        )
        # provider_checked_at is set when the provider accepts an order (order_provider_due_poll_idx)
        .order_by("provider_checked_at", "pk")
        .values_list("pk", "provider_order_id")[:limit]
    )
    client = client_for(provider)
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start:start + BATCH_SIZE]
        try:
            answers = client.status_many(upstream_id for _, upstream_id in batch)
        except ProviderError as exc:
            provider_health_record(provider_id=provider.pk, error=exc)
            counts["errors"] += 1
            break  # the provider is failing now: the next run asks again
        provider_health_record(provider_id=provider.pk)
        counts.update(_apply(provider=provider, batch=batch, answers=answers, now=now))
    return counts


def providers_poll(*, now: datetime | None = None) -> dict[str, int]:
    """Poll every provider that has forwarded orders in flight."""
    counts: Counter = Counter()
    in_flight = Order.objects.filter(status__in=POLLED, provider_order_id__isnull=False).values("provider_id")
    for provider in Provider.objects.filter(pk__in=in_flight).order_by("pk"):
        counts.update(provider_poll(provider=provider, limit=settings.PROVIDER_POLL_MAX_ORDERS, now=now))
    return dict(+counts)
