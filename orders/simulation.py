"""The simulated engine's deterministic plan for an order: where its counter starts, how much it
delivers, and how delivered units follow from elapsed time. No randomness: the same order and
link always give the same numbers, so a repeated or concurrent tick cannot disagree with itself.
"""
from __future__ import annotations

import hashlib
import math

BASE_COUNT_RANGE = (100, 50_000)  # a plausible follower/like count for a fresh link
SHORT_STOP_RANGE = (20, 90)  # a short order stops between these percentages of its quantity


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def base_count(link_normalized: str) -> int:
    """The link's counter before any order of this panel delivered to it (always above 0)."""
    low, high = BASE_COUNT_RANGE
    return low + _stable_int(link_normalized) % (high - low)


def delivery_limit(*, order_id: int, quantity: int, shortfall_percent: int) -> int:
    """How many units the order will deliver: all of them, unless it is one of the short ones.

    `shortfall_percent` of orders (chosen by id) stop at a point between 20 % and 90 %.
    """
    digest = _stable_int(f"order:{order_id}")
    if digest % 100 >= shortfall_percent:
        return quantity
    low, high = SHORT_STOP_RANGE
    percent = low + (digest // 100) % (high - low)
    return min(quantity - 1, max(0, quantity * percent // 100)) if quantity > 1 else 0


def delivered_after(*, seconds: float, speed_per_minute: int, limit: int) -> int:
    """Units delivered `seconds` after delivery started: never negative, never above the limit."""
    if seconds <= 0:
        return 0
    return min(limit, math.floor(speed_per_minute * seconds / 60))
