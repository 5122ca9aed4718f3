"""Money arithmetic and formatting: the one place that rounds or prints an amount.

Rates are per 1000 units with 6 decimal places; amounts (balances, charges, refunds, ledger)
have 5. Both are rounded half-up, never through float.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

RATE_PLACES = 6
AMOUNT_PLACES = 5
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
ZERO = Decimal("0.00000")


def to_amount(value: Decimal | int | str) -> Decimal:
    """Round to the ledger's 5 places, half-up."""
    return Decimal(value).quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_UP)


def to_rate(value: Decimal | int | str) -> Decimal:
    """Round to the catalog's 6 places, half-up."""
    return Decimal(value).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def order_charge(*, rate: Decimal, quantity: int, flat: bool = False) -> Decimal:
    """What an order costs: `rate` per 1000 units, or `rate` itself for a flat-priced package."""
    if flat:
        return to_amount(rate)
    return to_amount(Decimal(rate) * quantity / 1000)


def partial_refund(*, charge: Decimal, quantity: int, remains: int) -> Decimal:
    """The undelivered share of a charge; never more than the charge."""
    if quantity <= 0 or remains <= 0:
        return ZERO
    return min(to_amount(Decimal(charge) * min(remains, quantity) / quantity), to_amount(charge))


def _format(value: Decimal, min_places: int) -> str:
    """Fixed-point text with at least `min_places` decimals, more only when the value has them."""
    value = Decimal(value)
    if not value:
        value = abs(value)  # -0 (e.g. a sum of -2.88 and +2.88 in SQL) reads as 0.00, not -0.00
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(min_places, '0')}"


def format_rate(value: Decimal) -> str:
    """`"5.0000"`, `"0.0125"`, `"0.012345"`: at least 4 decimals."""
    return _format(to_rate(value), 4)


def format_amount(value: Decimal) -> str:
    """`"5.00"`, `"125.50"`, `"0.27819"`: at least 2 decimals."""
    return _format(to_amount(value), 2)
