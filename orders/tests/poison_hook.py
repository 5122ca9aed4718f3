"""Test-only: a start that kills its worker. Loaded into a worker with
`--include orders.tests.poison_hook`, never imported by the suite itself.

Starting an order whose link contains $POISON_LINK_MARKER ends the pool process at once, as a
segfaulting library would: no exception, no cleanup, the task's message still unacknowledged.
"""
from __future__ import annotations

import os

from orders import tasks
from orders.models import Order

_start = tasks.order_start_service


def _start_or_die(*, order_id: int, **kwargs):
    if Order.objects.filter(pk=order_id, link__contains=os.environ["POISON_LINK_MARKER"]).exists():
        os._exit(1)
    return _start(order_id=order_id, **kwargs)


tasks.order_start_service = _start_or_die
