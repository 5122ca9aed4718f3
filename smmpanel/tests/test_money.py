from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.money import format_amount, format_rate, order_charge, partial_refund, to_amount


@pytest.mark.parametrize(
    ("value", "text"),
    [("5", "5.0000"), ("0.0125", "0.0125"), ("0.012345", "0.012345"), ("1000", "1000.0000"), ("0", "0.0000")],
)
def test_rates_print_with_at_least_four_decimals(value, text):
    assert format_rate(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [("5", "5.00"), ("125.5", "125.50"), ("0.27819", "0.27819"), ("0", "0.00"), ("1E+3", "1000.00"), ("0.10000", "0.10"),
     ("-0.00000", "0.00"), ("-2.5", "-2.50")],
)
def test_amounts_print_with_at_least_two_decimals(value, text):
    assert format_amount(Decimal(value)) == text


def test_charge_is_per_thousand_rounded_half_up():
    assert order_charge(rate=Decimal("5"), quantity=1000) == Decimal("5.00000")
    assert order_charge(rate=Decimal("0.278193"), quantity=1000) == Decimal("0.27819")
    assert order_charge(rate=Decimal("0.000015"), quantity=1000) == Decimal("0.00002")  # .000015 → half-up
    assert order_charge(rate=Decimal("1.50"), quantity=1, flat=True) == Decimal("1.50000")


def test_partial_refund_is_the_undelivered_share():
    assert partial_refund(charge=Decimal("5"), quantity=1000, remains=400) == Decimal("2.00000")
    assert partial_refund(charge=Decimal("1"), quantity=3, remains=1) == Decimal("0.33333")
    assert partial_refund(charge=Decimal("1"), quantity=3, remains=0) == Decimal("0")


@given(
    rate=st.decimals(min_value=0, max_value=100000, places=6),
    quantity=st.integers(min_value=1, max_value=10_000_000),
    remains=st.integers(min_value=0, max_value=10_000_000),
)
def test_refund_never_exceeds_the_charge(rate, quantity, remains):
    charge = order_charge(rate=rate, quantity=quantity)
    refund = partial_refund(charge=charge, quantity=quantity, remains=remains)
    assert Decimal(0) <= refund <= charge
    assert refund == to_amount(refund)
    assert format_amount(charge).count(".") == 1
