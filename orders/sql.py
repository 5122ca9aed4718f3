"""Database expressions the fulfillment engine needs beyond Django's built-ins."""
from __future__ import annotations

from django.db.models import F, FloatField, Func, IntegerField, Value
from django.db.models.functions import Cast, Floor, Greatest, Least


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


def delivered_units(*, now_epoch: float):
    """Units an In progress order has delivered by `now_epoch`: the SQL twin of
    orders.simulation.delivered_after — floor(speed × elapsed minutes), between 0 and the limit.
    """
    elapsed = Value(now_epoch, output_field=FloatField()) - Epoch(F("deliver_from"))
    by_time = Floor(F("sim_speed") * elapsed / Value(60.0))
    return Cast(Greatest(Value(0), Least(F("sim_limit"), by_time)), IntegerField())
