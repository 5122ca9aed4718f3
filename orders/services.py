"""Every write to an order: placing, canceling and the one function that moves a status."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Account, LedgerKind
from accounts.services import Posting, ledger_post, ledger_post_many
from orders import lifecycle, simulation
from orders.models import ACTIVE_STATUSES, HoldReason, Order, OrderEvent, OrderStatus
from orders.sql import insert_events
from orders.wakeups import wake_after_commit
from orders.order_request import order_request_parse, request_fingerprint
from smmpanel import fields as f
from smmpanel.errors import (
    ActiveOrderExists,
    DomainError,
    IdempotencyKeyReused,
    IllegalTransition,
    InsufficientBalance,
    InvalidParameter,
    OrderNotCancelable,
    OrderNotFound,
)

IDEMPOTENCY_KEY_MAX_LENGTH = 200
RESELLER_CANCELABLE = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})


def _lock_account(account_id: int) -> Account:
    """Lock order: the account first, then its orders (see docs/architecture.md).

    FOR NO KEY UPDATE, like every account lock: balance writes never change the key, and this
    mode lets the foreign-key checks of other transactions (FOR KEY SHARE, run at COMMIT since
    Django's foreign keys are deferred) through. With FOR UPDATE, a worker that updated an order
    twice in one transaction (order_start, the tick) waited at COMMIT for the account while
    holding the order that a cancel, holding the account, waited for: a deadlock.
    """
    return Account.objects.select_for_update(no_key=True).only("id", "balance").get(pk=account_id)


def _replay(*, account_id: int, idempotency_key: str, fingerprint: str) -> Order | None:
    order = Order.objects.filter(account_id=account_id, idempotency_key=idempotency_key).first()
    if order is not None and order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return order


def order_place(
    *, account: Account, fields: Mapping[str, Any], idempotency_key: Any = None, actor: str
) -> Order:
    """Validate and place an order in one transaction: locks the account, charges it.

    With an idempotency key, a retry of the same request returns the first order unchanged.
    """
    fingerprint = ""
    if not f.is_blank(idempotency_key):
        idempotency_key = f.text("idempotency_key", idempotency_key)
        if len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise InvalidParameter("idempotency_key")
        fingerprint = request_fingerprint(fields)
        if replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint):
            return replayed
    else:
        idempotency_key = None

    request = order_request_parse(fields=fields)
    try:
        with transaction.atomic():
            locked = _lock_account(account.pk)
            if idempotency_key and (
                replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint)
            ):
                return replayed
            # Checked under the account lock, so two identical concurrent orders cannot both pass.
            if Order.objects.filter(
                account_id=account.pk,
                service_id=request.service.pk,
                link_normalized=request.link_normalized,
                status__in=ACTIVE_STATUSES,
            ).exists():
                raise ActiveOrderExists()
            if locked.balance < request.charge:
                raise InsufficientBalance()
            order = Order.objects.create(
                account_id=account.pk,
                service=request.service,
                link=request.link,
                link_normalized=request.link_normalized,
                quantity=request.quantity,
                remains=request.quantity,
                charge=request.charge,
                runs=request.runs,
                interval=request.interval,
                extra=request.extra,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
            ledger_post(account_id=account.pk, amount=-request.charge, kind=LedgerKind.CHARGE, order_id=order.pk)
            OrderEvent.objects.create(order=order, new_status=order.status, reason="placed", actor=actor)
            wake_after_commit(order.pk)
    except IntegrityError:
        # Only the idempotency constraint can collide here, and only if the lock was bypassed.
        if idempotency_key and (
            replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint)
        ):
            return replayed
        raise
    return order


def _apply_transition(
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
            _lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        return _apply_transition(
            order=order, new_status=new_status, reason=reason, actor=actor, remains=remains, created_by=created_by
        )


def order_cancel(*, account: Account, order_id: int, actor: str) -> Order:
    """Cancel a not-yet-started order of this account with a full refund; locks account, then order.

    A second cancel finds the order Canceled and is refused: the refund happens once.
    """
    with transaction.atomic():
        _lock_account(account.pk)
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(pk=order_id, account_id=account.pk)
            .first()
        )
        if order is None:
            raise OrderNotFound()
        if not (
            order.service.cancel
            and order.status in RESELLER_CANCELABLE
            and order.remains == order.quantity
            and not order.hold_reason
        ):
            raise OrderNotCancelable()
        return _apply_transition(order=order, new_status=OrderStatus.CANCELED, reason="canceled by reseller", actor=actor)


def order_cancel_many(*, account: Account, order_ids: Sequence[int], actor: str) -> dict[int, Order | Exception]:
    """Cancel each order in its own transaction: one refusal never undoes the others."""
    results: dict[int, Order | Exception] = {}
    for order_id in order_ids:
        try:
            results[order_id] = order_cancel(account=account, order_id=order_id, actor=actor)
        except (OrderNotFound, OrderNotCancelable) as exc:
            results[order_id] = exc
    return results


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
            list(Account.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("pk").values_list("pk"))
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


def order_start(*, order_id: int, now: datetime | None = None, actor: str = "worker") -> Order | None:
    """Pick up a Pending order for simulated delivery: fix its plan and move it to Processing, and
    on to In progress when its service has no start delay. Locks the order; a repeat is a no-op.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(pk=order_id, status=OrderStatus.PENDING, hold_reason="")
            .first()
        )
        if order is None:
            return None
        service = order.service
        delivered_earlier = (
            Order.objects.filter(service_id=service.pk, link_normalized=order.link_normalized, pk__lt=order.pk)
            .aggregate(units=Sum(F("quantity") - F("remains")))["units"]
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
        _apply_transition(order=order, new_status=OrderStatus.PROCESSING, reason="picked up", actor=actor, also_save=plan)
        if order.deliver_from <= now:
            order.start_count = order.sim_start_count
            _apply_transition(
                order=order, new_status=OrderStatus.IN_PROGRESS, reason="delivery started", actor=actor,
                also_save=["start_count"],
            )
    return order


def order_operator_cancel(*, order_id: int, actor: str, created_by=None) -> Order:
    """An operator's cancel: before delivery started, Canceled with the whole charge refunded;
    after, Partial with the undelivered part refunded. Locks the account, then the order.
    """
    with transaction.atomic():
        account_id = Order.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        if account_id is None:
            raise OrderNotFound()
        _lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in RESELLER_CANCELABLE and order.remains == order.quantity:
            new_status = OrderStatus.CANCELED
        elif order.status in (OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS):
            new_status = OrderStatus.PARTIAL
        else:
            raise OrderNotCancelable()
        return _apply_transition(
            order=order, new_status=new_status, reason="canceled by operator", actor=actor, created_by=created_by
        )


def order_mark_partial(*, order_id: int, delivered: int, actor: str, created_by=None) -> Order:
    """End an order as Partial with `delivered` units, refunding the rest; locks account, then order."""
    quantity = Order.objects.filter(pk=order_id).values_list("quantity", flat=True).first()
    if quantity is None:
        raise OrderNotFound()
    if not 0 <= delivered < quantity:
        raise DomainError(f"Delivered must be between 0 and {quantity - 1} for a partial order")
    return order_transition(
        order_id=order_id, new_status=OrderStatus.PARTIAL, reason=f"marked partial: {delivered} delivered",
        actor=actor, remains=quantity - delivered, created_by=created_by,
    )


def order_mark_completed(*, order_id: int, actor: str) -> Order:
    """End an order as Completed (everything delivered, nothing refunded); locks the order."""
    return order_transition(order_id=order_id, new_status=OrderStatus.COMPLETED, reason="marked completed", actor=actor)


def order_resend(*, order_id: int, actor: str) -> Order:
    """Clear an active order's hold and put it back in the queue; locks the order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise OrderNotFound()
        if order.status not in (OrderStatus.PENDING, OrderStatus.PROCESSING):
            raise DomainError(f"Only Pending or Processing orders can be resent, not {order.status}")
        old_hold, order.hold_reason, order.attempts = order.hold_reason, "", 0
        order.save(update_fields=["hold_reason", "attempts", "updated_at"])
        OrderEvent.objects.create(
            order=order, old_status=order.status, new_status=order.status,
            reason=f"resent (hold {old_hold or 'none'} cleared)", actor=actor,
        )
        if order.status == OrderStatus.PENDING:
            wake_after_commit(order.pk)
    return order
