"""Provider money in panel money: what an imported service sells for, what an order cost us.

Each result is rounded once, half-up, from the exact product: the default 28-digit Decimal context
could round a long rate × exchange rate × markup before the final rounding, so these compute in a
wider one.
"""
from __future__ import annotations

from decimal import Decimal, localcontext

from smmpanel.money import to_amount, to_rate

_PRECISION = 80  # digits: more than any product of three stored values can have


def resale_rate(*, provider_rate: Decimal, exchange_rate: Decimal, markup_percent: Decimal) -> Decimal:
    """Our price per 1000: provider rate × exchange rate × (1 + markup %), to 6 places."""
    with localcontext() as context:
        context.prec = _PRECISION
        return to_rate(Decimal(provider_rate) * Decimal(exchange_rate) * (100 + Decimal(markup_percent)) / 100)


def panel_amount(*, amount: Decimal, exchange_rate: Decimal) -> Decimal:
    """An amount in the provider's currency (a charge, a balance) in ours, to 5 places."""
    with localcontext() as context:
        context.prec = _PRECISION
        return to_amount(Decimal(amount) * Decimal(exchange_rate))
