"""The catalog's version token, changed by triggers on every write to its tables (see
catalog.models.CatalogVersion, and orders/api/services_answer.py which caches by it).

PostgreSQL: one BEFORE … FOR EACH STATEMENT trigger per table (INSERT, UPDATE, DELETE, TRUNCATE), so a
bulk statement of 2 000 rows changes the token once. BEFORE, so a writer takes the token row's lock
before any catalog row of its statement: two concurrent catalog writers queue on it instead of
locking rows in opposite orders. SQLite has row triggers only; its writers are serialised anyway.
"""
from django.db import migrations, models

TABLES = ("catalog_service", "catalog_category", "catalog_customrate")

POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION catalog_version_bump() RETURNS trigger AS $$
    BEGIN
        INSERT INTO catalog_catalogversion (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))
        ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql""",
    *(f"""CREATE TRIGGER {table}_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
          FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump()""" for table in TABLES),
    "INSERT INTO catalog_catalogversion (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))",
]
POSTGRES_DOWN = [
    *(f"DROP TRIGGER IF EXISTS {table}_version ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS catalog_version_bump()",
]
SQLITE_BUMP = "INSERT OR REPLACE INTO catalog_catalogversion (id, token) VALUES (1, lower(hex(randomblob(16))))"
SQLITE_UP = [
    *(f"CREATE TRIGGER {table}_version_{event.lower()} AFTER {event} ON {table} BEGIN {SQLITE_BUMP}; END"
      for table in TABLES for event in ("INSERT", "UPDATE", "DELETE")),
    SQLITE_BUMP,
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_version_{event.lower()}" for table in TABLES for event in ("INSERT", "UPDATE", "DELETE")
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_service_provider_links")]

    operations = [
        migrations.CreateModel(
            name="CatalogVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("token", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        ),
    ]
