"""After a run that writes: nothing lost. Every successful `add` is one order with one charge,
and every balance still equals the sum of its ledger (a lost update would break that).

wrk stops by closing its connections: the requests in flight at that instant still commit in
gunicorn but their answers are never read, so up to `connections` more orders than counted
successes is expected; fewer orders than successes, or more than that, is a fault.
"""
from __future__ import annotations


def last_order_id() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM orders_order")
        return cursor.fetchone()[0]


def writes_problems(*, after_order_id: int, successful_adds: int, in_flight: int) -> list[str]:
    """What is wrong with the orders placed since `after_order_id`, and with the money."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT
                 (SELECT count(*) FROM orders_order WHERE id > %(after)s),
                 (SELECT count(*) FROM accounts_ledgerentry WHERE order_id > %(after)s AND kind = 'charge'),
                 (SELECT count(*) FROM accounts_account a
                   WHERE a.balance <> (SELECT coalesce(sum(amount), 0) FROM accounts_ledgerentry l
                                        WHERE l.account_id = a.id))""",
            {"after": after_order_id},
        )
        orders, charges, unbalanced = cursor.fetchone()
    problems = []
    if not successful_adds <= orders <= successful_adds + in_flight:
        problems.append(f"{orders} orders placed for {successful_adds} successful adds "
                        f"(up to {in_flight} unanswered in flight allowed)")
    if charges != orders:
        problems.append(f"{charges} charges in the ledger for {orders} orders")
    if unbalanced:
        problems.append(f"{unbalanced} accounts whose balance is not the sum of their ledger")
    return problems
