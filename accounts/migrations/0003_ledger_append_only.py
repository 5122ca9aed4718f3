"""The ledger is append-only in the database too: UPDATE and DELETE of its rows are refused.

The code never does either; the trigger makes a bug or a hand-typed SQL statement fail loudly.
"""
from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION accounts_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'accounts_ledgerentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_ledger_append_only
    BEFORE UPDATE OR DELETE ON accounts_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION accounts_ledger_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS accounts_ledger_append_only ON accounts_ledgerentry;
DROP FUNCTION IF EXISTS accounts_ledger_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER accounts_ledger_no_update BEFORE UPDATE ON accounts_ledgerentry
       BEGIN SELECT RAISE(ABORT, 'accounts_ledgerentry is append-only: UPDATE refused'); END""",
]  # No DELETE trigger on SQLite: Django's test flush empties tables with DELETE there.
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS accounts_ledger_no_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}),
            _run({"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}),
        ),
    ]
