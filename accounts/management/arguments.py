"""Argument types shared by the operator commands."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError


def amount(value: str) -> Decimal:
    """A non-negative, finite decimal amount, e.g. `100` or `12.50`."""
    try:
        parsed = Decimal(value)
    except InvalidOperation as exc:
        raise CommandError(f"Not an amount: {value!r}") from exc
    if not parsed.is_finite() or parsed < 0:
        raise CommandError(f"Not a non-negative amount: {value!r}")
    return parsed
