"""Reading what real panels answer: typed results from loosely typed JSON.

Panels that speak "the standard API" disagree on details: numbers arrive as `1000`, `"1000"`,
`"1000.00"` or `1000.0`; `charge`, `start_count` and `remains` may be missing, null or `""`;
statuses are spelled `In progress`, `inprogress`, `Cancelled` …; extra fields appear. Everything
here accepts those and returns None for a value that is absent or unreadable, so the caller
decides what a missing value means. Shapes the caller cannot use raise ProviderTemporaryError
(a panel that answers garbage today usually answers properly tomorrow).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from catalog.service_types import ServiceType
from orders.models import OrderStatus, RefillStatus
from providers.errors import ProviderTemporaryError


@dataclass(frozen=True)
class UpstreamService:
    """One entry of a provider's `services` answer, in the provider's currency."""

    service_id: str
    name: str
    category: str
    type: str  # as the provider spells it
    service_type: ServiceType | None  # ours, when the spelling is one we know
    rate: Decimal  # per 1000 (for package types: per order)
    min_quantity: int
    max_quantity: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str


@dataclass(frozen=True)
class UpstreamStatus:
    """One order's status at the provider. `error` is set (and the rest None) for `Order not found` & co."""

    status: OrderStatus | None  # None: a status we do not map (Error, Fail, unknown spellings) or an error
    raw_status: str
    charge: Decimal | None = None  # in `currency` (the provider's)
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """The provider says the order failed (`Error`, `Fail`): not a status of ours, an operator's case."""
        return _squash(self.raw_status) in FAILED_STATUSES


@dataclass(frozen=True)
class UpstreamRefillStatus:
    status: RefillStatus | None
    raw_status: str
    error: str | None = None


@dataclass(frozen=True)
class CancelAnswer:
    order_id: str
    accepted: bool
    error: str | None = None


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str | None


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower())


ORDER_STATUSES: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    "inprogress": OrderStatus.IN_PROGRESS,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "partial": OrderStatus.PARTIAL,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    # The provider gave the money back: for us the order is canceled (and refunded) too.
    "refunded": OrderStatus.CANCELED,
}
FAILED_STATUSES = frozenset({"error", "fail", "failed"})
REFILL_STATUSES: dict[str, RefillStatus] = {
    "pending": RefillStatus.PENDING,
    "processing": RefillStatus.IN_PROGRESS,
    "inprogress": RefillStatus.IN_PROGRESS,
    "completed": RefillStatus.COMPLETED,
    "complete": RefillStatus.COMPLETED,
    "rejected": RefillStatus.REJECTED,
    "canceled": RefillStatus.REJECTED,
    "cancelled": RefillStatus.REJECTED,
}
SERVICE_TYPES: dict[str, ServiceType] = {_squash(choice.value): choice for choice in ServiceType}


def order_status(raw: Any) -> OrderStatus | None:
    return ORDER_STATUSES.get(_squash(raw)) if isinstance(raw, str) else None


def decimal_or_none(value: Any) -> Decimal | None:
    """`"5.0000"`, `5`, `5.0`, `" 5.25 "` → Decimal; missing, null, `""`, garbage, NaN → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)  # the shortest text of the float, not its binary expansion
    if not isinstance(value, (int, str)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def int_or_none(value: Any) -> int | None:
    """`1000`, `"1000"`, `"1000.00"`, `1000.0` → 1000; a fraction or garbage → None."""
    number = decimal_or_none(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def count_or_none(value: Any) -> int | None:
    """A count (`start_count`, `remains`): some panels send negatives for over-delivery; that is 0."""
    number = int_or_none(value)
    return None if number is None else max(number, 0)


def flag(value: Any) -> bool:
    """`true`, `1`, `"1"`, `"true"`, `"yes"` → True; anything else (missing included) → False."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 1)


def text(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def id_text(value: Any) -> str | None:
    """An upstream id as text (`12345`, `"12345"`, `12345.0` → `"12345"`); None when absent or empty."""
    number = int_or_none(value)
    if number is not None:
        return str(number)
    value = text(value)
    return value or None


def error_text(entry: Any) -> str | None:
    """The message of an `{"error": …}` object (some panels nest it: `{"error": {"message": …}}`)."""
    if not isinstance(entry, Mapping) or "error" not in entry or entry["error"] in (None, "", False):
        return None
    error = entry["error"]
    if isinstance(error, Mapping):
        error = error.get("message") or error.get("error") or "error"
    return text(error) or "error"


def services_list(answer: Any) -> list[UpstreamService]:
    """A `services` answer. Entries without an id or a readable rate and bounds are left out:
    they cannot be priced or sold, exactly like a service the provider no longer lists."""
    if isinstance(answer, Mapping):  # a few panels key the list by service id
        answer = list(answer.values())
    if not isinstance(answer, list):
        raise ProviderTemporaryError("Unexpected `services` answer: not a list")
    services = []
    for entry in answer:
        if not isinstance(entry, Mapping):
            continue
        service_id = id_text(entry.get("service", entry.get("id")))
        rate = decimal_or_none(entry.get("rate"))
        minimum, maximum = int_or_none(entry.get("min")), int_or_none(entry.get("max"))
        if service_id is None or rate is None or rate < 0 or minimum is None or maximum is None:
            continue
        raw_type = text(entry.get("type")) or ServiceType.DEFAULT.value
        services.append(
            UpstreamService(
                service_id=service_id,
                name=text(entry.get("name")) or f"Service {service_id}",
                category=text(entry.get("category")),
                type=raw_type,
                service_type=SERVICE_TYPES.get(_squash(raw_type)),
                rate=rate,
                min_quantity=max(minimum, 0),
                max_quantity=max(maximum, 0),
                refill=flag(entry.get("refill")),
                cancel=flag(entry.get("cancel")),
                dripfeed=flag(entry.get("dripfeed")),
                description=text(entry.get("description", entry.get("desc"))),
            )
        )
    return services


def upstream_status(entry: Any) -> UpstreamStatus:
    """One order's status object (single `status`, or a value of the batch answer)."""
    if not isinstance(entry, Mapping):
        return UpstreamStatus(status=None, raw_status="", error="Unexpected status entry")
    if (error := error_text(entry)) is not None:
        return UpstreamStatus(status=None, raw_status="", error=error)
    raw = text(entry.get("status"))
    return UpstreamStatus(
        status=order_status(raw),
        raw_status=raw,
        charge=decimal_or_none(entry.get("charge")),
        start_count=count_or_none(entry.get("start_count")),
        remains=count_or_none(entry.get("remains")),
        currency=text(entry.get("currency")) or None,
    )


def statuses_by_id(answer: Any, requested: Iterable[str]) -> dict[str, UpstreamStatus]:
    """A batch `status` answer: the standard object keyed by id, or a list of objects with `order`.

    Only requested ids are kept; an id the provider left out is missing from the result.
    """
    wanted = set(requested)
    if isinstance(answer, Mapping):
        pairs = [(id_text(key), value) for key, value in answer.items()]
    elif isinstance(answer, list):
        if not all(isinstance(entry, Mapping) and id_text(entry.get("order", entry.get("id"))) for entry in answer):
            raise ProviderTemporaryError("Unexpected batch `status` answer: a list without order ids")
        pairs = [(id_text(entry.get("order", entry.get("id"))), entry) for entry in answer]
    else:
        raise ProviderTemporaryError("Unexpected batch `status` answer")
    return {key: upstream_status(value) for key, value in pairs if key in wanted}


def cancel_answers(answer: Any, requested: list[str]) -> list[CancelAnswer]:
    """A `cancel` answer: `[{"order":1,"cancel":1}, {"order":2,"cancel":{"error":…}}]`, or the
    single-order form `{"cancel": 1}` for one requested id."""
    if isinstance(answer, Mapping) and "cancel" in answer and len(requested) == 1:
        answer = [{"order": requested[0], **answer}]
    elif isinstance(answer, Mapping):  # keyed by id, like the batch status
        answer = [{"order": key, "cancel": value} for key, value in answer.items()]
    if not isinstance(answer, list):
        raise ProviderTemporaryError("Unexpected `cancel` answer")
    results = []
    wanted = set(requested)
    for entry in answer:
        if not isinstance(entry, Mapping) or (order_id := id_text(entry.get("order", entry.get("id")))) not in wanted:
            continue
        outcome = entry.get("cancel")
        error = error_text(outcome) if isinstance(outcome, Mapping) else error_text(entry)
        accepted = error is None and (flag(outcome) or id_text(outcome) == order_id or outcome == "success")
        results.append(CancelAnswer(order_id=order_id, accepted=accepted, error=error))
    return results


def refill_status(answer: Any) -> UpstreamRefillStatus:
    if not isinstance(answer, Mapping):
        raise ProviderTemporaryError("Unexpected `refill_status` answer")
    raw = text(answer.get("status"))
    return UpstreamRefillStatus(status=REFILL_STATUSES.get(_squash(raw)), raw_status=raw)


def balance(answer: Any) -> Balance:
    amount = decimal_or_none(answer.get("balance")) if isinstance(answer, Mapping) else None
    if amount is None:
        raise ProviderTemporaryError("Unexpected `balance` answer: no balance")
    return Balance(amount=amount, currency=text(answer.get("currency")).upper() or None)
