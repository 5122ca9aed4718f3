"""The simulated engine's deterministic plan for an order: where its counter starts, how much it
delivers, and how delivered units follow from elapsed time. No randomness: the same order and
link always give the same numbers, so a repeated or concurrent tick cannot disagree with itself.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

BASE_COUNT_RANGE = (100, 50_000)  # a plausible follower/like count for a fresh link
SHORT_STOP_RANGE = (20, 90)  # a short order stops between these percentages of its quantity
MINUTE_SECONDS = 60.0  # a real minute; settings.FULFILLMENT_MINUTE_SECONDS may shorten it for tests


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


@dataclass(frozen=True)
class DripFeed:
    """A drip-feed order's schedule: `runs` runs of `per_run` units, run k (from 0) released
    k × `interval_minutes` after delivery started, each delivered at the service speed.

    A run never overlaps the one before it: it starts at its release or when the previous run is
    done, whichever is later. When the speed delivers a run within an interval ("paced"), run k
    starts right at its release and the order rests between runs; when it cannot, each run
    starts as the previous one ends, which is plain delivery at the service speed. Either way an
    order never goes faster than its service, and every run delivers whole (the order's quantity
    is per_run × runs by construction, orders.order_request).
    """

    runs: int
    interval_minutes: int
    per_run: int

    @classmethod
    def of(cls, *, quantity: int, runs: int | None, interval_minutes: int | None) -> DripFeed | None:
        if runs is None or interval_minutes is None:
            return None
        return cls(runs=runs, interval_minutes=interval_minutes, per_run=quantity // runs)

    def paced(self, speed_per_minute: int) -> bool:
        return speed_per_minute * self.interval_minutes >= self.per_run

    def position(self, *, seconds: float, speed_per_minute: int, minute_seconds: float) -> tuple[int, int]:
        """A paced order's current run (from 0; the last once all are released) and the units
        of it delivered."""
        interval_seconds = self.interval_minutes * minute_seconds
        run = max(0, min(self.runs - 1, math.floor(seconds / interval_seconds)))
        in_run = math.floor(speed_per_minute * (seconds - run * interval_seconds) / minute_seconds)
        return run, max(0, min(self.per_run, in_run))


def delivered_after(
    *,
    seconds: float,
    speed_per_minute: int,
    limit: int,
    dripfeed: DripFeed | None = None,
    minute_seconds: float = MINUTE_SECONDS,
) -> int:
    """Units delivered `seconds` after delivery started: never negative, never above the limit.

    The twin of orders.sql.delivered_units (same operations in the same order, so the same floats).
    """
    if seconds <= 0:
        return 0
    if dripfeed is None or not dripfeed.paced(speed_per_minute):
        return min(limit, math.floor(speed_per_minute * seconds / minute_seconds))
    run, in_run = dripfeed.position(seconds=seconds, speed_per_minute=speed_per_minute, minute_seconds=minute_seconds)
    return min(limit, run * dripfeed.per_run + in_run)


def between_runs(
    *, seconds: float, speed_per_minute: int, dripfeed: DripFeed | None, minute_seconds: float = MINUTE_SECONDS
) -> bool:
    """A drip-feed order resting between runs: its current run fully delivered, another still to
    be released (only a paced order ever rests)."""
    if dripfeed is None or seconds < 0 or not dripfeed.paced(speed_per_minute):
        return False
    run, in_run = dripfeed.position(seconds=seconds, speed_per_minute=speed_per_minute, minute_seconds=minute_seconds)
    return run < dripfeed.runs - 1 and in_run >= dripfeed.per_run


def dropped_units(*, delivered: int, drop_percent: int) -> int:
    """How much of what an order delivered has dropped away since (the part a refill restores)."""
    return delivered * drop_percent // 100
