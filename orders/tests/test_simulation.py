"""The simulated engine's arithmetic: deterministic, bounded, monotonic."""
from hypothesis import given
from hypothesis import strategies as st

from orders.simulation import base_count, delivered_after, delivery_limit


def test_base_count_is_stable_per_link_and_above_zero():
    assert base_count("https://instagram.com/a") == base_count("https://instagram.com/a")
    assert base_count("https://instagram.com/a") != base_count("https://instagram.com/b")
    assert all(base_count(f"link{n}") > 0 for n in range(200))


def test_shortfall_share_follows_the_percentage():
    short = [delivery_limit(order_id=n, quantity=1000, shortfall_percent=30) < 1000 for n in range(1, 2001)]
    assert 0.25 < sum(short) / len(short) < 0.35
    assert all(delivery_limit(order_id=n, quantity=1000, shortfall_percent=0) == 1000 for n in range(1, 500))
    assert all(delivery_limit(order_id=n, quantity=1000, shortfall_percent=100) < 1000 for n in range(1, 500))
    assert delivery_limit(order_id=7, quantity=1000, shortfall_percent=50) == delivery_limit(
        order_id=7, quantity=1000, shortfall_percent=50
    )


@given(
    order_id=st.integers(min_value=1, max_value=10**12),
    quantity=st.integers(min_value=1, max_value=10**7),
    shortfall=st.integers(min_value=0, max_value=100),
)
def test_limit_is_never_more_than_ordered(order_id, quantity, shortfall):
    assert 0 <= delivery_limit(order_id=order_id, quantity=quantity, shortfall_percent=shortfall) <= quantity


@given(
    earlier=st.floats(min_value=-100, max_value=10**6),
    later=st.floats(min_value=-100, max_value=10**6),
    speed=st.integers(min_value=1, max_value=10**6),
    limit=st.integers(min_value=0, max_value=10**7),
)
def test_delivery_grows_with_time_and_stops_at_the_limit(earlier, later, speed, limit):
    earlier, later = sorted((earlier, later))
    first = delivered_after(seconds=earlier, speed_per_minute=speed, limit=limit)
    second = delivered_after(seconds=later, speed_per_minute=speed, limit=limit)
    assert 0 <= first <= second <= limit


def test_delivery_is_speed_per_minute():
    assert delivered_after(seconds=30, speed_per_minute=600, limit=1000) == 300
    assert delivered_after(seconds=600, speed_per_minute=600, limit=1000) == 1000
    assert delivered_after(seconds=0, speed_per_minute=600, limit=1000) == 0
