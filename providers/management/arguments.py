"""Argument types of the provider commands (argparse reports a bad value as a usage error)."""
from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation


def decimal_number(value: str) -> Decimal:
    """A finite decimal such as `25`, `-5` or `0.0295`."""
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"Not a number: {value!r}") from None
    if not parsed.is_finite():
        raise argparse.ArgumentTypeError(f"Not a number: {value!r}")
    return parsed
