"""Every write to an order: placing, canceling, starting, and the one place that moves a status.

Split by what it does; import from here.
"""

from orders.services.canceling import (
    RESELLER_CANCELABLE,
    order_cancel,
)
from orders.services.operator import (
    order_mark_completed,
    order_mark_partial,
    order_operator_cancel,
    order_resend,
)
from orders.services.placing import order_place
from orders.services.starting import order_start
from orders.services.transitions import (
    order_attempt_begin,
    order_hold,
    order_transition,
    orders_move,
)

__all__ = [
    "RESELLER_CANCELABLE",
    "order_attempt_begin",
    "order_cancel",
    "order_hold",
    "order_mark_completed",
    "order_mark_partial",
    "order_operator_cancel",
    "order_place",
    "order_resend",
    "order_start",
    "order_transition",
    "orders_move",
]
