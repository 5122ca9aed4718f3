"""Assertions shared by the API tests: typed comparison, and "a refused request changes nothing"."""
from __future__ import annotations

from typing import Any

from accounts.models import Account, LedgerEntry
from orders.models import Order, OrderEvent


def typed(value: Any) -> Any:
    """A JSON value with every scalar paired with its type: `1`, `True`, `1.0` and `"1"` differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave alone: orders, their history, the ledger, balances."""
    return {
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "remains", "charge", "hold_reason")),
        "events": OrderEvent.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "balances": dict(Account.objects.values_list("pk", "balance")),
    }


def refused(api, message: str, action: str | None = None, **fields) -> None:
    """A form-encoded request is answered `{"error": message}` and changes nothing."""
    before = snapshot()
    assert typed(api(action, **fields)) == typed({"error": message}), (action, fields)
    assert snapshot() == before, (action, fields)


def placed(api, **fields) -> Order:
    """An `add` that succeeds; returns the order it created."""
    answer = api("add", **fields)
    assert list(answer) == ["order"] and type(answer["order"]) is int, (answer, fields)
    return Order.objects.get(pk=answer["order"])
