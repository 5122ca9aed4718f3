"""PostgreSQL: a NOTIFY on channel `smmpanel_api` whenever something an API call's key lookup
returns may have changed, so web processes can keep lookups in memory (accounts/key_cache.py).

Statement triggers (one notification per statement; PostgreSQL folds repeats within a transaction
and delivers them at COMMIT), AFTER each write that changes what the lookup reads:
- a key's digest, revocation, allow-list or account, or a key deleted (not `last_used_*`: written
  once a minute per key, they are not read from the cache);
- an account's active flag or user, or an account deleted (not its balance: never cached);
- a user's active flag or username, or a user deleted;
- any write to the catalog (services, categories, own prices): the lookup carries the catalog's
  version token.
SQLite has no NOTIFY; there the lookup is never cached.
"""
from django.conf import settings
from django.db import migrations

CHANNEL = "smmpanel_api"
WATCHED = {
    "accounts_apikey": "UPDATE OF digest, revoked_at, allowed_ips, account_id OR DELETE OR TRUNCATE",
    "accounts_account": "UPDATE OF is_active, user_id OR DELETE OR TRUNCATE",
    "catalog_service": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "catalog_category": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "catalog_customrate": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}
USER_EVENTS = "UPDATE OF is_active, username OR DELETE OR TRUNCATE"


def _user_table(apps) -> str:
    return apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table


def _tables(apps) -> dict[str, str]:
    return {**WATCHED, _user_table(apps): USER_EVENTS}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"""CREATE OR REPLACE FUNCTION smmpanel_api_changed() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql"""
    )
    for table, events in _tables(apps).items():
        schema_editor.execute(
            f"CREATE TRIGGER {quote(table + '_api_changed')} AFTER {events} ON {quote(table)}"
            " FOR EACH STATEMENT EXECUTE FUNCTION smmpanel_api_changed()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table in _tables(apps):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(table + '_api_changed')} ON {quote(table)}")
    schema_editor.execute("DROP FUNCTION IF EXISTS smmpanel_api_changed()")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_apikey_allowlist_last_used_ip"),
        ("catalog", "0006_catalog_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
