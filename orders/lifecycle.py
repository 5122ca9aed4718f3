"""The order lifecycle as data: which status moves are allowed and what each does to money.

Every path that moves an order (API, worker, admin, provider sync) goes through this table,
via orders.services.transitions.order_transition (one order) or the worker's bulk statements (many).
"""
from __future__ import annotations

from decimal import Decimal
from enum import Enum

from orders.models import OrderStatus as S
from smmpanel.money import ZERO, partial_refund, to_amount

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PROCESSING, S.CANCELED}),
    S.PROCESSING: frozenset({S.IN_PROGRESS, S.COMPLETED, S.PARTIAL, S.CANCELED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.PARTIAL}),
    S.COMPLETED: frozenset(),
    S.PARTIAL: frozenset(),
    S.CANCELED: frozenset(),
}

TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


class Refund(Enum):
    NONE = "none"
    FULL = "full"  # the whole charge
    UNDELIVERED = "undelivered"  # charge × remains / quantity


REFUND_ON_ENTRY: dict[str, Refund] = {
    S.CANCELED: Refund.FULL,
    S.PARTIAL: Refund.UNDELIVERED,
}


def is_allowed(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def refund_amount(*, new_status: str, charge: Decimal, quantity: int, remains: int) -> Decimal:
    """What entering `new_status` gives back to the reseller."""
    rule = REFUND_ON_ENTRY.get(new_status, Refund.NONE)
    if rule is Refund.FULL:
        return to_amount(charge)
    if rule is Refund.UNDELIVERED:
        return partial_refund(charge=charge, quantity=quantity, remains=remains)
    return ZERO


# Refills have their own short life: requested, re-delivering, done (or nothing to re-deliver).
REFILL_TRANSITIONS: dict[str, frozenset[str]] = {
    "Pending": frozenset({"In progress", "Rejected"}),
    "In progress": frozenset({"Completed", "Rejected"}),
    "Completed": frozenset(),
    "Rejected": frozenset(),
}
REFILLABLE_ORDER_STATUSES = frozenset({S.COMPLETED, S.PARTIAL})
