"""The benchmarks' seed writes orders with COPY and an explicit column list, which a new NOT NULL
column silently breaks (the bench is not run by CI): seed a few orders here and tick them."""
from __future__ import annotations

import random

import pytest
from django.db.models import Sum

from accounts.models import Account
from orders.engine import tick
from orders.models import Order


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_bench_seed_matches_the_schema_and_the_tick_takes_its_orders():
    from bench.tick import PREVIOUS_TICK, seed

    seeded = seed(60, 5, random.Random(7), history=10)
    assert Order.objects.count() == 70 and Account.objects.count() == 5
    for account in Account.objects.all():
        assert account.balance == account.ledger.aggregate(total=Sum("amount"))["total"]
    moved = tick(now=PREVIOUS_TICK)
    assert moved["advanced"] == seeded.orders
