"""The API benchmark's scenarios, their baselines and issue #8's targets, as data."""
from __future__ import annotations

from dataclasses import dataclass

API_PATH = "/api/v2"
BARE_PATH = "/bench/bare"  # the floor: a constant JsonResponse, run once with the `status` bodies


@dataclass(frozen=True)
class Scenario:
    name: str  # --scenarios name, and the bodies' name in the data file
    title: str
    reference: str  # path of its minimal reference view (bench/reference.py)
    what: str  # what the reference does
    writes: bool = False  # checked for lost orders and money afterwards
    cached_bytes: str | None = None  # services: a bare view returning the same answer's cached bytes
    min_rate: float | None = None  # issue #8: req/s on its 2-core machine (noisy, report the spread)
    max_p99_ms: float | None = None


SCENARIOS = [
    Scenario("status", "`status`, one order", "/bench/ref/status", "one select by primary key",
             min_rate=600),
    Scenario("status100", "`status`, 100 ids", "/bench/ref/status100", "one select `id IN (…100)`"),
    Scenario("balance", "`balance`", "/bench/ref/balance", "one select of the balance", min_rate=600),
    Scenario("add", "`add`, many accounts", "/bench/ref/add",
             "lock account, debit, insert order and ledger entry, one transaction", writes=True, min_rate=480),
    Scenario("add-hot", "`add`, one hot account", "/bench/ref/add", "the same, always the same account",
             writes=True, max_p99_ms=150),
    Scenario("services", "`services`, 2 000", "/bench/ref/services", "`.values()` of every service, to JSON",
             cached_bytes="/bench/bare/services", min_rate=300),
]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}

TARGET_RATIO_REFERENCE = 0.7  # each API scenario ≥ 0.7× its reference view
TARGET_RATIO_CACHED_BYTES = 0.8  # `services` ≥ 0.8× a bare view returning the same cached bytes
