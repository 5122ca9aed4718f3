"""Database expressions the fulfillment engine needs beyond Django's built-ins, and its few
PostgreSQL statements (each with the portable ORM path beside it, for SQLite)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, FloatField, Func, IntegerField, Q, Value, When
from django.db.models.functions import Cast, Floor, Greatest, Least
from django.db.models.lookups import GreaterThanOrEqual
from django.db.models.sql import Query
from django.utils import timezone


class Epoch(Func):
    """A datetime column as seconds since 1970 (float), on PostgreSQL and SQLite."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC datetimes as ISO text there; julianday() reads them to about 10 µs,
        # so round to the millisecond (else 30 s may read as 29.99999 and deliver one unit less).
        template = "(round((julianday(%(expressions)s) - 2440587.5) * 86400000.0) / 1000.0)"
        return self.as_sql(compiler, connection, template=template, **extra)


def delivered_units(*, now_epoch: float, minute_seconds: float):
    """Units an In progress order has delivered by `now_epoch`, between 0 and its limit: the SQL
    twin of orders.simulation.delivered_after (the same operations in the same order).

    A plain order: floor(speed × elapsed minutes). A paced drip-feed order (speed × interval ≥
    units per run; see simulation.DripFeed) is in run k = min(runs − 1, floor(elapsed / interval))
    and has delivered k whole runs plus min(per run, floor(speed × minutes since run k's release)).
    A drip-feed order too slow to rest between runs delivers like a plain one.
    """
    minute = Value(float(minute_seconds), output_field=FloatField())
    elapsed = Value(now_epoch, output_field=FloatField()) - Epoch(F("deliver_from"))
    steady = Floor(F("sim_speed") * elapsed / minute)
    per_run = F("quantity") / F("runs")  # integer division; quantity is per run × runs
    interval = F("interval") * minute
    run = Greatest(
        Value(0.0), Least(F("runs") - Value(1), Floor(elapsed / interval), output_field=FloatField()),
        output_field=FloatField(),
    )
    in_run_by_time = Floor(F("sim_speed") * (elapsed - run * interval) / minute)
    in_run = Greatest(
        Value(0.0), Least(per_run, in_run_by_time, output_field=FloatField()), output_field=FloatField()
    )
    # Plain orders (runs NULL) fail the first test and take `steady`, as before drip-feed existed.
    paced = Q(runs__isnull=False) & Q(GreaterThanOrEqual(Cast(F("sim_speed"), FloatField()) * F("interval"), per_run))
    by_time = Case(When(paced, then=run * per_run + in_run), default=steady, output_field=FloatField())
    return Cast(Greatest(Value(0), Least(F("sim_limit"), by_time)), IntegerField())


def remains_at(*, now_epoch: float, minute_seconds: float):
    """An In progress order's `remains` at `now_epoch`, never above what it already is: ticks
    overlap (two beats, or one running past the interval) and one that read the clock earlier may
    write later; it must not take delivered units back, nor raise the remains of an order another
    tick found finished, which then goes Partial refunding that larger remains.
    """
    return Least(F("remains"), F("quantity") - delivered_units(now_epoch=now_epoch, minute_seconds=minute_seconds))


@dataclass(frozen=True)
class AdvancedBatch:
    """What one batch of the tick did: how many orders it advanced, the last primary key it
    claimed (where the next batch starts) and the orders that reached their delivery limit."""

    advanced: int
    last_pk: int
    completed_ids: list[int]  # delivered everything
    partial_ids: list[int]  # stopped short of the quantity


def _compile(expression, query: Query, compiler) -> tuple[str, list]:
    return compiler.compile(expression.resolve_expression(query, allow_joins=False, for_save=True))


def advance_batch_returning(*, now: datetime, after_pk: int, limit: int) -> AdvancedBatch:
    """PostgreSQL: claim the next `limit` due In progress orders after `after_pk` with
    `SELECT … FOR UPDATE SKIP LOCKED` and recompute their `remains` — one statement, one round
    trip, no list of ids sent. The arithmetic is remains_at(), compiled by Django, so this
    and the portable path in orders.engine cannot disagree. Run it inside a transaction: the rows
    stay locked until it ends.
    """
    from orders.models import Order, OrderStatus

    table = connection.ops.quote_name(Order._meta.db_table)
    query = Query(Order)
    compiler = query.get_compiler(connection=connection)
    remains = remains_at(now_epoch=now.timestamp(), minute_seconds=settings.FULFILLMENT_MINUTE_SECONDS)
    remains_sql, remains_params = _compile(remains, query, compiler)
    sql = f"""
        WITH advanced AS (
            UPDATE {table} SET remains = {remains_sql}, updated_at = %s
             WHERE id = ANY(ARRAY(
                   SELECT id FROM {table}
                    WHERE status = %s AND hold_reason = '' AND provider_id IS NULL AND id > %s
                    ORDER BY id LIMIT %s
                      FOR UPDATE SKIP LOCKED))
         RETURNING id, remains <= quantity - sim_limit AS finished, sim_limit >= quantity AS whole
        )
        SELECT count(*), coalesce(max(id), 0),
               coalesce(array_agg(id ORDER BY id) FILTER (WHERE finished AND whole), '{{}}'),
               coalesce(array_agg(id ORDER BY id) FILTER (WHERE finished AND NOT whole), '{{}}')
          FROM advanced
    """
    params = [*remains_params, now, OrderStatus.IN_PROGRESS.value, after_pk, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        advanced, last_pk, completed_ids, partial_ids = cursor.fetchone()
    return AdvancedBatch(advanced, last_pk, completed_ids, partial_ids)


def insert_events(*, order_ids: Sequence[int], old_status: str, new_status: str, reason: str, actor: str) -> None:
    """One OrderEvent per order, the same move for all: on PostgreSQL one INSERT … SELECT over an
    array of ids (a tick logs thousands; building model instances for them costs more than the
    insert), elsewhere bulk_create. It names its columns: a new OrderEvent field goes here too."""
    from orders.models import OrderEvent

    if connection.vendor != "postgresql":
        OrderEvent.objects.bulk_create(
            OrderEvent(order_id=pk, old_status=old_status, new_status=new_status, reason=reason, actor=actor)
            for pk in order_ids
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(OrderEvent._meta.db_table)}"
            " (order_id, old_status, new_status, reason, actor, created_at)"
            " SELECT id, %s, %s, %s, %s, %s FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id, n) ORDER BY n",
            [old_status, new_status, reason, actor, timezone.now(), list(order_ids)],
        )
