"""Argument types shared by the operator commands."""
from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from accounts.services import MAX_BALANCE
from smmpanel.money import to_amount


def amount(value: str) -> Decimal:
    """A non-negative, finite decimal amount that fits the ledger, e.g. `100` or `12.50`.

    Raises ArgumentTypeError: argparse reports it as a usage error (exit code 2, no traceback)
    and `call_command` as a CommandError. (A CommandError raised here would escape
    `run_from_argv`'s handler and print a traceback.)
    """
    try:
        parsed = Decimal(value)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"Not an amount: {value!r}") from exc
    if not parsed.is_finite() or parsed < 0:
        raise argparse.ArgumentTypeError(f"Not a non-negative amount: {value!r}")
    # Must fit the ledger's columns (16 digits, 5 places).
    if parsed > MAX_BALANCE or to_amount(parsed) > MAX_BALANCE:
        raise argparse.ArgumentTypeError(f"Amount too large (at most {MAX_BALANCE}): {value!r}")
    return parsed
