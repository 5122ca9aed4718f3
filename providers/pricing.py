"""Provider money in panel money: what an imported service sells for, what an order cost us.

Each result is rounded once, half-up, from the exact product: the default 28-digit Decimal context
could round a long rate × exchange rate × markup before the final rounding, so these compute in a
wider one.
"""
from __future__ import annotations

from decimal import Decimal, localcontext

from smmpanel.money import partial_refund, to_amount, to_rate

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


def final_cost(*, charged: Decimal | None, said: str | None, quantity: int, remains: int | None) -> Decimal | None:
    """What an order finally costs us at the provider, in panel currency, from its gross charge:
    nothing when it canceled (it refunds the whole charge), the charge less the undelivered part
    when it ended Partial (refunded by the standard formula), else the charge. None: not known yet."""
    if said == "Canceled":
        return Decimal(0)
    if charged is None:
        return None
    if said == "Partial" and remains is not None:
        return charged - partial_refund(charge=charged, quantity=quantity, remains=remains)
    return charged
