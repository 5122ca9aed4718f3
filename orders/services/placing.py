"""Placing an order: validate, then one transaction that inserts it and charges the account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, LedgerKind
from accounts.services import ledger_post
from orders.models import ACTIVE_STATUSES, Order
from orders.order_request import OrderRequest, order_request_parse, request_fingerprint
from orders.sql import insert_events
from orders.wakeups import wake_after_commit
from smmpanel import fields as f
from smmpanel.errors import (
    ActiveOrderExists,
    IdempotencyKeyReused,
    InsufficientBalance,
)


def _replay(*, account_id: int, idempotency_key: str, fingerprint: str) -> Order | None:
    order = Order.objects.filter(account_id=account_id, idempotency_key=idempotency_key).first()
    if order is not None and order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return order


def _active_twin_exists(order: Order, request: OrderRequest) -> bool:
    """Whether the account has another active order of this service for this link."""
    return (
        Order.objects.filter(
            account_id=order.account_id,
            service_id=request.service.pk,
            link_normalized=request.link_normalized,
            status__in=ACTIVE_STATUSES,
        )
        .exclude(pk=order.pk)
        .exists()
    )


def order_place(
    *, account: Account, fields: Mapping[str, Any], idempotency_key: Any = None, actor: str,
    catalog_version: str | None = None,
) -> Order:
    """Validate and place an order in one transaction that charges the account (under its lock).

    With an idempotency key, a retry of the same request returns the first order unchanged.
    `catalog_version`: the catalog's version token as the caller just read it (the API's key
    lookup does), so the service can come from this process's catalog snapshot.
    """
    fingerprint = ""
    if not f.is_blank(idempotency_key):
        idempotency_key = f.text("idempotency_key", idempotency_key)  # within fields.MAX_LENGTH
        fingerprint = request_fingerprint(fields)
        if replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint):
            return replayed
    else:
        idempotency_key = None

    request = order_request_parse(fields=fields, account_id=account.pk, catalog_version=catalog_version)
    try:
        with transaction.atomic():
            # The order and its event first: a new row no one else can see needs no lock. The
            # account's row lock comes with the charge (ledger_post's UPDATE), so only the charge,
            # its ledger entry and the active-link check wait behind a busy account's lock.
            order = Order.objects.create(
                account_id=account.pk,
                service=request.service,
                provider_id=request.service.provider_id,
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
            # The SQL insert of the tick's bulk moves: an event instance would cost more than its insert.
            insert_events(order_ids=[order.pk], old_status="", new_status=order.status, reason="placed", actor=actor)
            try:
                ledger_post(account_id=account.pk, amount=-request.charge, kind=LedgerKind.CHARGE, order_id=order.pk)
            except InsufficientBalance:
                if _active_twin_exists(order, request):  # API.md's order of checks: this one first
                    raise ActiveOrderExists() from None
                raise
            # Under the account lock, in a statement after it was granted: two identical orders in
            # flight at once queue on the lock, and the second sees the first once it commits.
            if _active_twin_exists(order, request):
                raise ActiveOrderExists()
            wake_after_commit(order.pk)
    except IntegrityError:
        # Only the idempotency constraint can collide: the same key in flight twice; the first won.
        if idempotency_key and (
            replayed := _replay(account_id=account.pk, idempotency_key=idempotency_key, fingerprint=fingerprint)
        ):
            return replayed
        raise
    return order
