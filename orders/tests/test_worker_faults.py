"""Faults under real processes: a pool process or a whole worker killed with SIGKILL, and the
broker (a private Redis) stopped and restarted empty. Every order still ends as planned, and the
money stays right: the database is the source of truth and the tick's sweep redoes lost work.
"""
from __future__ import annotations

import base64
import json
import os
import re
import signal
from collections.abc import Iterable
from decimal import Decimal

import psycopg
import pytest
import redis
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, LedgerEntry, LedgerKind
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders import lifecycle
from orders.models import FulfillmentTick, Order, OrderStatus
from orders.services import order_place
from orders.tests.live_processes import (
    PrivateRedis,
    database_url,
    wait_for,
)
from smmpanel.money import format_amount

pytestmark = pytest.mark.postgres

FINISHED = {OrderStatus.COMPLETED, OrderStatus.PARTIAL}


def place(account: Account, service, count: int, *, tag: str, quantity: int = 100) -> list[int]:
    """Orders placed as the API places them (each commits, then publishes its wake-up)."""
    return [
        order_place(
            account=account,
            fields={"service": service.pk, "link": f"https://instagram.com/{tag}{n}", "quantity": quantity},
            actor="test",
        ).pk
        for n in range(count)
    ]


class Observations:
    """Every order's `remains` at each look: never outside [0, quantity], never growing back."""

    def __init__(self, ids: Iterable[int], *, monotonic: bool = False):
        self.ids = list(ids)
        self.monotonic = monotonic
        self.remains: dict[int, int] = {}

    def look(self) -> dict[int, tuple[str, int]]:
        rows = Order.objects.filter(pk__in=self.ids).values_list("pk", "status", "remains", "quantity")
        for pk, _status, remains, quantity in rows:
            assert 0 <= remains <= quantity, (pk, remains)
            assert not self.monotonic or remains <= self.remains.get(pk, quantity), (pk, self.remains[pk], remains)
            self.remains[pk] = remains
        return {pk: (status, remains) for pk, status, remains, _ in rows}

    def all_in(self, statuses) -> bool:
        return all(status in statuses for status, _ in self.look().values())


def assert_finished_as_planned(ids: list[int]) -> None:
    """Started once, then Completed or Partial as planned, each Partial refunded once, nothing else."""
    refunds = dict(
        LedgerEntry.objects.filter(order_id__in=ids, kind=LedgerKind.REFUND)
        .values("order_id").annotate(total=Sum("amount")).values_list("order_id", "total")
    )
    refund_rows = LedgerEntry.objects.filter(order_id__in=ids, kind=LedgerKind.REFUND).count()
    assert refund_rows == len(refunds)  # one row per refunded order (the ledger's unique constraint)
    for order in Order.objects.filter(pk__in=ids):
        assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.CHARGE).count() == 1
        if order.sim_limit == order.quantity:
            assert (order.status, order.remains) == (OrderStatus.COMPLETED, 0), order.pk
            assert order.pk not in refunds
        else:
            assert (order.status, order.remains) == (OrderStatus.PARTIAL, order.quantity - order.sim_limit), order.pk
            expected = lifecycle.refund_amount(
                new_status=OrderStatus.PARTIAL, charge=order.charge, quantity=order.quantity, remains=order.remains
            )
            assert refunds[order.pk] == expected > 0
        # A repeated wake-up or a redone tick is a no-op: each move happened once.
        moves = list(order.events.exclude(new_status=OrderStatus.PENDING).values_list("new_status", flat=True))
        assert moves == [OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS, order.status], (order.pk, moves)


def assert_balanced(account: Account, *, deposited: Decimal) -> None:
    account.refresh_from_db()
    ledger = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    charges = Order.objects.filter(account=account).aggregate(total=Sum("charge"))["total"]
    refunds = LedgerEntry.objects.filter(account=account, kind=LedgerKind.REFUND).aggregate(total=Sum("amount"))
    assert account.balance == ledger == deposited - charges + (refunds["total"] or 0)


def other_backends(condition: str) -> list[int]:
    """Pids of the other sessions on the test database that meet `condition` (pg_stat_activity)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            f" AND {condition}"
        )
        return [pid for (pid,) in cursor.fetchall()]


def tick_mid_batch() -> list[int]:
    # Only a tick's batch writes inside a transaction here; it has an xid once it updated rows.
    return other_backends("xact_start IS NOT NULL AND backend_xid IS NOT NULL")


def backend_alive(pid: int) -> bool:
    return bool(other_backends(f"pid = {int(pid)}"))


def lost_jobs(worker) -> int:
    """Tasks the worker reports lost with their pool process (here: ticks killed while running)."""
    return worker.log().count("Task handler raised error: WorkerLostError")


def test_a_pool_process_killed_mid_batch_loses_no_order_and_no_money(processes):
    """SIGKILL the pool process while a tick holds a batch of rows in an open transaction, again
    and again: the batch rolls back, the next tick (a tick interval later) redoes it from the
    clock, and every order ends as planned with its refund written once.
    """
    account = reseller_with_key("pool", "1000")
    service = ServiceFactory(speed_per_minute=300, shortfall_percent=30)  # 100 units in 20 s
    # One pool process, and batches of 2: a tick is dozens of short transactions back to back.
    worker = processes.worker(concurrency=1, env={"FULFILLMENT_BATCH_SIZE": "2"})
    processes.beat()
    ids = place(account, service, 120, tag="pool")
    seen = Observations(ids, monotonic=True)
    wait_for(lambda: seen.all_in({OrderStatus.IN_PROGRESS}), timeout=30, message="every order In progress")

    kills = 0
    while lost_jobs(worker) < 3:  # a kill can land just after a tick ended: then it counts for nothing
        kills += 1
        assert kills <= 10, worker.log()[-3000:]
        [backend, *_] = wait_for(tick_mid_batch, timeout=30, interval=0.01, message="a tick mid-batch")
        [child] = worker.children()
        os.kill(child, signal.SIGKILL)
        killed_at = timezone.now()
        wait_for(lambda: not backend_alive(backend), timeout=10, message="the killed batch to roll back")
        wait_for(lambda: worker.children() not in ([], [child]), timeout=20, message="a new pool process")
        wait_for(lambda: FulfillmentTick.objects.filter(started_at__gt=killed_at).exists(), timeout=20,
                 message="a tick after the kill")
        seen.look()

    assert OrderStatus.IN_PROGRESS in {status for status, _ in seen.look().values()}  # killed mid-delivery
    wait_for(lambda: seen.all_in(FINISHED), timeout=60, interval=0.3, message="every order to finish")
    assert worker.alive()
    assert_finished_as_planned(ids)
    assert_balanced(account, deposited=Decimal("1000"))


def unacked_order_starts(server: PrivateRedis) -> set[int]:
    """Order ids of the start tasks a worker took from Redis and never acknowledged."""
    client = redis.Redis.from_url(server.url)
    ids = set()
    for raw in client.hvals("unacked"):
        payload = json.loads(raw)[0]
        if payload["headers"]["task"] == "orders.tasks.order_start":
            args, _kwargs, _embed = json.loads(base64.b64decode(payload["body"]))
            ids.add(args[0])
    return ids


def resent_by_ticks(process) -> int:
    return sum(int(n) for n in re.findall(r"'wakeups_resent': (\d+)", process.log()))


def test_a_killed_worker_s_unacked_starts_are_resent_by_the_next_worker_s_tick(processes, private_redis):
    """SIGKILL the whole worker while two start tasks are running (unacknowledged: Redis would
    hand them out again only after its hour-long visibility timeout) and other orders are half
    delivered. The next worker's tick finds the two Pending orders and sends their wake-ups
    again, and finishes the deliveries: nothing waits for the broker.
    """
    account = reseller_with_key("crash", "1000")
    delivering = ServiceFactory(speed_per_minute=600, shortfall_percent=30)  # 100 units in 10 s
    quick = ServiceFactory(speed_per_minute=6000)
    # Placed before any worker runs, so their wake-ups wait in Redis in this order.
    running = place(account, delivering, 6, tag="running")
    stuck = place(account, quick, 2, tag="stuck")
    waiting = place(account, quick, 2, tag="waiting")
    ids = running + stuck + waiting
    seen = Observations(ids)

    def midway(orders: dict[int, tuple[str, int]]) -> bool:
        """`waiting` done; every one of `running` delivered something, and some are not done."""
        return (
            all(orders[pk][0] in FINISHED for pk in waiting)
            and all(orders[pk][1] < 100 for pk in running)
            and any(orders[pk][0] == OrderStatus.IN_PROGRESS for pk in running)
        )

    # A session of our own holds the rows of `stuck`, so the starts taken for them block inside
    # the worker (the third pool process takes everything else).
    holder = psycopg.connect(database_url(), autocommit=False)
    try:
        holder.execute("SELECT id FROM orders_order WHERE id = ANY(%s) FOR UPDATE", [stuck])
        first = processes.worker(concurrency=3)
        processes.beat()
        wait_for(lambda: len(other_backends("wait_event_type = 'Lock'")) == 2, timeout=30,
                 message="both starts of `stuck` blocked in the worker")
        wait_for(lambda: midway(seen.look()), timeout=30, message="`waiting` done and `running` half delivered")
        first.kill_group()
        first.popen.wait(timeout=10)
        assert set(stuck) <= unacked_order_starts(private_redis)
    finally:
        holder.rollback()
        holder.close()
    assert {seen.look()[pk][0] for pk in stuck} == {OrderStatus.PENDING}

    second = processes.worker(concurrency=2)
    # A tick interval after they were last touched, the next tick re-sends their wake-ups: allow
    # many intervals here, still a hundred times less than the visibility timeout.
    wait_for(lambda: not {seen.look()[pk][0] for pk in stuck} & {OrderStatus.PENDING}, timeout=30,
             message="`stuck` picked up by the new worker")
    wait_for(lambda: seen.all_in(FINISHED), timeout=60, interval=0.3, message="every order to finish")
    assert resent_by_ticks(second) >= len(stuck), second.log()[-3000:]
    # Their first wake-ups are still parked in Redis' unacked set: the sweep did the work.
    assert set(stuck) <= unacked_order_starts(private_redis)
    assert_finished_as_planned(ids)
    assert_balanced(account, deposited=Decimal("1000"))


def test_add_keeps_answering_while_redis_is_down_and_orders_complete_once_it_is_back(
    processes, private_redis, api, reseller
):
    """Stop the broker (its data is lost: no persistence), place orders over HTTP, start it again
    empty on the same port. The worker and beat that were running reconnect by themselves, and
    the tick finds the orders whose wake-ups never went out.
    """
    service = ServiceFactory(speed_per_minute=6000, shortfall_percent=30)
    worker = processes.worker()
    beat = processes.beat()
    link = "https://instagram.com/outage{}".format
    before = api("add", service=service.pk, link=link("before"), quantity=100)["order"]
    wait_for(lambda: Order.objects.get(pk=before).status in FINISHED, timeout=20, message="an order before")

    private_redis.stop()
    during = []
    for n in range(5):
        answer = api("add", service=service.pk, link=link(n), quantity=100)
        assert list(answer) == ["order"], answer
        during.append(answer["order"])
    assert [api("status", order=pk)["status"] for pk in during] == ["Pending"] * 5
    charged = Order.objects.filter(account=reseller).aggregate(total=Sum("charge"))["total"]
    assert charged == 6 * Decimal("0.5")
    refunded = LedgerEntry.objects.filter(account=reseller, kind=LedgerKind.REFUND).aggregate(t=Sum("amount"))["t"]
    assert api("balance")["balance"] == format_amount(Decimal("100") - charged + (refunded or 0))

    # Both noticed: the worker is retrying its connection, beat failed to send a tick.
    wait_for(lambda: "Cannot connect to redis" in worker.log(), timeout=20, message="the worker to retry")
    wait_for(lambda: "Couldn't apply scheduled task" in beat.log(), timeout=20, message="beat to fail a send")

    private_redis.start()
    seen = Observations(during)
    wait_for(lambda: seen.all_in(FINISHED), timeout=60, interval=0.3, message="every order to finish")
    assert worker.alive() and beat.alive()  # the same processes, reconnected
    assert resent_by_ticks(worker) >= len(during)  # their wake-ups after `add` never went out
    assert_finished_as_planned([before, *during])
    assert_balanced(reseller, deposited=Decimal("100"))
