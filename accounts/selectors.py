"""Reads of the accounts app that run on every reseller API call."""
from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import Account, ApiKey
from smmpanel.db_values import converter

# What an API call reads of its key, account and user; anything else stays deferred (a read of it
# would cost a query, which the API's query-count tests would catch).
User = get_user_model()
_WANTED = (
    (ApiKey, {"id", "prefix", "allowed_ips", "last_used_at", "last_used_ip", "account_id"}),
    (Account, {"id", "balance", "user_id"}),
    (User, {"id", "username"}),
)
# In each model's field order, as Model.from_db expects the values of a partial row.
_COLUMNS = tuple(
    (model, tuple(f.attname for f in model._meta.concrete_fields if f.attname in wanted)) for model, wanted in _WANTED
)
_compiled: dict[str, tuple[str, list]] = {}


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def _lookup_sql() -> tuple[str, list]:
    """The SQL of the lookup and, per column, the conversion Django would apply to its value.

    Written once per database vendor instead of compiled by the ORM at every call: with
    select_related and `.only()` the ORM spent ~0.65 ms of CPU a call building this statement and
    its rows, against ~0.15 ms for the same statement run directly (bench/REPORT.md).
    """
    vendor = connection.vendor
    if vendor not in _compiled:
        q = connection.ops.quote_name
        key, account, user = (model._meta.db_table for model, _ in _COLUMNS)
        columns, converters = [], []
        for model, names in _COLUMNS:
            for name in names:
                columns.append(f"{q(model._meta.db_table)}.{q(_column(model, name))}")
                converters.append(converter(model, name))
        # The catalog's version token rides along (catalog/snapshot.py): `add` and `services` would
        # otherwise spend a round trip of their own on it. A scalar subquery on a one-row table.
        version = apps.get_model("catalog", "CatalogVersion")._meta.db_table
        columns.append(f"(SELECT {q('token')} FROM {q(version)} WHERE {q('id')} = 1)")
        sql = (
            f"SELECT {', '.join(columns)} FROM {q(key)}"
            f" INNER JOIN {q(account)} ON {q(key)}.{q(_column(ApiKey, 'account'))} = {q(account)}.{q(_column(Account, 'id'))}"
            f" INNER JOIN {q(user)} ON {q(account)}.{q(_column(Account, 'user'))} = {q(user)}.{q(_column(User, 'id'))}"
            # The digest's unique index finds the row; the flags are checked on that one row.
            f" WHERE {q(key)}.{q(_column(ApiKey, 'digest'))} = %s AND {q(key)}.{q(_column(ApiKey, 'revoked_at'))} IS NULL"
            f" AND {q(account)}.{q(_column(Account, 'is_active'))} AND {q(user)}.{q(_column(User, 'is_active'))}"
        )
        _compiled[vendor] = (sql, converters)
    return _compiled[vendor]


def apikey_by_digest(*, digest: str) -> ApiKey | None:
    """The unrevoked key with this digest, with its account and user (only the columns a call
    reads), when both are active; one indexed query (accounts/key_cache.py keeps its answers where
    PostgreSQL notifies every change).
    The key also carries `catalog_version`, the catalog's version token as of this statement."""
    sql, converters = _lookup_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [convert(value) for value, convert in zip(row, converters)]
    objects, start = [], 0
    for model, names in _COLUMNS:
        objects.append(model.from_db(connection.alias, list(names), values[start:start + len(names)]))
        start += len(names)
    api_key, account, user = objects
    account.user = user
    api_key.account = account
    api_key.catalog_version = row[-1]  # after the converted columns (zip above stops before it)
    return api_key


def account_balance(account: Account) -> Decimal:
    """The account's balance for this call: as loaded with it (a key lookup that read the database),
    else read now, one row by primary key (the key cache never holds balances). A statement written
    directly: the ORM's deferred-field load spent more CPU on it than the rest of a `balance` call."""
    if "balance" not in account.get_deferred_fields():
        return account.balance
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {q(_column(Account, 'balance'))} FROM {q(Account._meta.db_table)} WHERE {q('id')} = %s",
                       [account.pk])
        (balance,) = cursor.fetchone()
    account.balance = converter(Account, "balance")(balance)
    return account.balance
