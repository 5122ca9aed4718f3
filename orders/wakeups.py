"""Best-effort wake-ups: after an order commits, ask a worker to pick it up now.

The database is the source of truth: when the broker is down the publish fails quietly and the
next fulfillment tick finds the order anyway. A broker error never fails the request.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)

# After a failed publish this process skips publishing for a while, so that during a broker
# outage each `add` does not wait for a connection timeout.
BACKOFF_SECONDS = 5.0
_skip_until = 0.0


def _send(order_id: int) -> None:
    from orders.tasks import (
        order_start,  # tasks import the services that import this module
    )

    order_start.apply_async((order_id,), retry=False)


def _publish_quietly(order_id: int) -> None:
    global _skip_until
    if time.monotonic() < _skip_until:
        return
    try:
        _send(order_id)
    except Exception:  # any broker failure: the tick's sweep covers it
        _skip_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning(
            "Could not publish the wake-up of order %s; the tick will pick it up", order_id,
            exc_info=True, extra={"order_id": order_id},
        )


def wake_after_commit(order_id: int) -> None:
    transaction.on_commit(partial(_publish_quietly, order_id), robust=True)


def wake_now(order_ids: Sequence[int]) -> int:
    """Publish wake-ups at once (the tick re-sending lost ones); returns how many went out."""
    for sent, order_id in enumerate(order_ids):
        try:
            _send(order_id)
        except Exception:
            logger.warning("Could not publish wake-ups; the next tick will try again", exc_info=True)
            return sent
    return len(order_ids)
