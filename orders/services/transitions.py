"""The one place that moves order statuses: single orders (order_transition) and sets
(orders_move), both through orders.lifecycle's table; holds and attempt counting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account, LedgerKind
from accounts.services import Posting, ledger_post, ledger_post_many
from orders import lifecycle
from orders.models import ACTIVE_STATUSES, HoldReason, Order, OrderEvent, OrderStatus
from orders.sql import insert_events
from smmpanel.errors import (
    IllegalTransition,
    OrderNotFound,
)


def lock_account(account_id: int) -> Account:
    """Lock order: the account first, then its orders (see docs/architecture.md).

    FOR NO KEY UPDATE, like every account lock: balance writes never change the key, and this
    mode lets the foreign-key checks of other transactions (FOR KEY SHARE, run at COMMIT since
    Django's foreign keys are deferred) through. With FOR UPDATE, a worker that updated an order
    twice in one transaction (order_start, the tick) waited at COMMIT for the account while
    holding the order that a cancel, holding the account, waited for: a deadlock.
    """
    return Account.objects.select_for_update(no_key=True).only("id", "balance").get(pk=account_id)


def lock_account_order(*, account_id: int, order_id: int) -> Order:
    """One of this account's orders (with its service), locked; OrderNotFound for anyone else's."""
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("service")
        .filter(pk=order_id, account_id=account_id)
        .first()
    )
    if order is None:
        raise OrderNotFound()
    return order


def apply_transition(
    *,
    order: Order,
    new_status: str,
    reason: str,
    actor: str,
    remains: int | None = None,
    also_save: Sequence[str] = (),
    created_by=None,
) -> Order:
    """Move a locked order through the lifecycle table, log the event, post any refund.

    The caller holds the account lock whenever the move refunds (see order_transition), and may
    have set other fields on `order` to be saved with the move (`also_save`). `created_by` is the
    operator a refund is recorded against (None for the API and workers).
    """
    old_status = order.status
    if not lifecycle.is_allowed(old_status, new_status):
        raise IllegalTransition(old_status, new_status)
    if new_status == OrderStatus.COMPLETED:
        remains = 0
    if remains is not None:
        order.remains = max(0, min(remains, order.quantity))
    refund = lifecycle.refund_amount(
        new_status=new_status, charge=order.charge, quantity=order.quantity, remains=order.remains
    )
    order.status = new_status
    if new_status in lifecycle.TERMINAL and order.hold_reason:
        order.hold_reason = ""  # a hold only means something while the order is active
        also_save = [*also_save, "hold_reason"]
    order.save(update_fields=["status", "remains", "updated_at", *also_save])
    OrderEvent.objects.create(order=order, old_status=old_status, new_status=new_status, reason=reason, actor=actor)
    if refund > 0:
        ledger_post(
            account_id=order.account_id, amount=refund, kind=LedgerKind.REFUND, order_id=order.pk, created_by=created_by
        )
    return order


def order_transition(
    *, order_id: int, new_status: str, reason: str, actor: str, remains: int | None = None, created_by=None
) -> Order:
    """Move one order to `new_status`; locks its account (when money moves), then the order."""
    with transaction.atomic():
        if new_status in lifecycle.REFUND_ON_ENTRY:
            account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
            lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        return apply_transition(
            order=order, new_status=new_status, reason=reason, actor=actor, remains=remains, created_by=created_by
        )


def orders_move(
    *,
    order_ids: Sequence[int],
    old_status: str,
    new_status: str,
    reason: str,
    actor: str,
    now: datetime | None = None,
    changes: Mapping[str, Any] | None = None,
) -> list[int]:
    """Move many orders from `old_status` to `new_status` with set-based statements.

    The same lifecycle table as order_transition decides, once for the whole set. Locks the
    accounts first (in primary-key order) when the move refunds, then the orders; orders that
    another transaction holds, or that are no longer in `old_status` or are on hold, are left
    for a later pass. `changes` are extra column updates (values or expressions). Returns the
    ids moved.
    """
    if not lifecycle.is_allowed(old_status, new_status):
        raise IllegalTransition(old_status, new_status)
    now = now or timezone.now()
    refunds = new_status in lifecycle.REFUND_ON_ENTRY
    with transaction.atomic():
        if refunds:
            account_ids = sorted(set(Order.objects.filter(pk__in=order_ids).values_list("account_id", flat=True)))
            list(
                Account.objects.select_for_update(no_key=True)
                .filter(pk__in=account_ids)
                .order_by("pk")
                .values_list("pk")
            )
        moved = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk__in=order_ids, status=old_status, hold_reason="")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not moved:
            return []
        updates: dict[str, Any] = {"status": new_status, "updated_at": now, **(changes or {})}
        if new_status == OrderStatus.COMPLETED:
            updates["remains"] = 0
        Order.objects.filter(pk__in=moved).update(**updates)
        insert_events(order_ids=moved, old_status=old_status, new_status=new_status, reason=reason, actor=actor)
        if refunds:
            rows = Order.objects.filter(pk__in=moved).values_list("pk", "account_id", "charge", "quantity", "remains")
            postings = [
                Posting(account_id=account_id, order_id=pk, amount=amount)
                for pk, account_id, charge, quantity, remains in rows
                if (
                    amount := lifecycle.refund_amount(
                        new_status=new_status, charge=charge, quantity=quantity, remains=remains
                    )
                )
                > 0
            ]
            ledger_post_many(postings=postings, kind=LedgerKind.REFUND)
    return moved


def order_hold(*, order_id: int, hold_reason: str, reason: str, actor: str) -> bool:
    """Put an active order on hold so workers leave it to an operator; False if it was not active."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, status__in=ACTIVE_STATUSES).first()
        if order is None or order.hold_reason == hold_reason:
            return False
        order.hold_reason = hold_reason
        order.save(update_fields=["hold_reason", "updated_at"])
        OrderEvent.objects.create(
            order=order, old_status=order.status, new_status=order.status, reason=f"hold: {reason}", actor=actor
        )
    return True


def order_attempt_begin(*, order_id: int, max_attempts: int, actor: str) -> bool:
    """Count a start task beginning on this Pending order; False when there is nothing to start, or
    when it has begun `max_attempts` times without finishing — such a task keeps dying (e.g. it
    kills its worker), so the order is parked for an operator instead of being retried forever.
    """
    waiting = Order.objects.filter(pk=order_id, status=OrderStatus.PENDING, hold_reason="")
    if not waiting.update(attempts=F("attempts") + 1):
        return False
    attempts = Order.objects.values_list("attempts", flat=True).get(pk=order_id)
    if attempts > max_attempts:
        order_hold(
            order_id=order_id,
            hold_reason=HoldReason.PARKED,
            reason=f"parked after {attempts - 1} unfinished attempts",
            actor=actor,
        )
        return False
    return True
