"""Argument types shared by the operator commands."""
from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from accounts.models import Account
from smmpanel.money import AMOUNT_QUANTUM, to_amount

# Amounts must fit the ledger's columns (Account.balance, LedgerEntry.amount: 16 digits, 5 places).
_BALANCE_FIELD = Account._meta.get_field("balance")
AMOUNT_LIMIT = Decimal(10) ** (_BALANCE_FIELD.max_digits - _BALANCE_FIELD.decimal_places)


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
    if parsed >= AMOUNT_LIMIT or to_amount(parsed) >= AMOUNT_LIMIT:
        raise argparse.ArgumentTypeError(f"Amount too large (at most {AMOUNT_LIMIT - AMOUNT_QUANTUM}): {value!r}")
    return parsed
