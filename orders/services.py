"""Every write to an order: placing, canceling and the one function that moves a status."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, LedgerKind
from accounts.services import ledger_post
from orders import lifecycle
from orders.models import ACTIVE_STATUSES, Order, OrderEvent, OrderStatus
from orders.order_request import order_request_parse, request_fingerprint
from smmpanel import fields as f
from smmpanel.errors import (
    ActiveOrderExists,
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
    """Lock order: the account first, then its orders (see docs/architecture.md)."""
    return Account.objects.select_for_update().only("id", "balance").get(pk=account_id)


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
    except IntegrityError:
        # Only the idempotency constraint can collide here, and only if the lock was bypassed.
        if idempotency_key and (
            replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint)
        ):
            return replayed
        raise
    return order


def _apply_transition(*, order: Order, new_status: str, reason: str, actor: str, remains: int | None = None) -> Order:
    """Move a locked order through the lifecycle table, log the event, post any refund.

    The caller holds the account lock whenever the move refunds (see order_transition).
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
    order.save(update_fields=["status", "remains", "updated_at"])
    OrderEvent.objects.create(order=order, old_status=old_status, new_status=new_status, reason=reason, actor=actor)
    if refund > 0:
        ledger_post(account_id=order.account_id, amount=refund, kind=LedgerKind.REFUND, order_id=order.pk)
    return order


def order_transition(
    *, order_id: int, new_status: str, reason: str, actor: str, remains: int | None = None
) -> Order:
    """Move one order to `new_status`; locks its account (when money moves), then the order."""
    with transaction.atomic():
        if new_status in lifecycle.REFUND_ON_ENTRY:
            account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
            _lock_account(account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        return _apply_transition(order=order, new_status=new_status, reason=reason, actor=actor, remains=remains)


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
