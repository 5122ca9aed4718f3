"""Django's conversion of a column's raw database value, for statements run on a cursor directly.

The API's hottest reads skip the ORM (compiling their statements cost more than running them), but
must still hand back what the ORM would: a Decimal from SQLite's numbers, aware datetimes, and so
on, as each backend and field convert them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection


def converter(model, field_name: str) -> Callable[[Any], Any]:
    """A function turning a raw value of `model.field_name` into the one the ORM would give, for
    the current connection's database vendor."""
    field = model._meta.get_field(field_name)
    col = field.get_col(model._meta.db_table)
    functions = connection.ops.get_db_converters(col) + field.get_db_converters(connection)

    def convert(value: Any) -> Any:
        for function in functions:
            value = function(value, col, connection)
        return value

    return convert
