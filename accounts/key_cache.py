"""Each web process keeps the API key lookups it made, and drops them all when PostgreSQL says
something they hold may have changed. It takes the key lookup off a call's critical path while a
revocation still holds from the next call on, in every process.

How a process learns of a change without asking: its database connection LISTENs on channel
`smmpanel_api`, and triggers (accounts migration 0008) NOTIFY it on every write to what a lookup
returns — a key's revocation, digest or allow-list, an account's or user's active flag, a username,
a deleted row, and the catalog (the lookup carries its version token). PostgreSQL sends the
notification to an idle listening connection as the writer commits, before the writer's COMMIT
returns; and every request already starts with a round trip on its connection, Django's health
check (`CONN_HEALTH_CHECKS`), during which psycopg hands over whatever arrived. So a call made after
a revocation was committed drops the cache before it looks at it.

Only where that holds: PostgreSQL, health checks on, persistent connections (`CONN_MAX_AGE` not 0),
and `API_KEY_CACHE` on. Otherwise every call looks its key up. A connection opened (or reopened)
starts listening and empties the cache first: notifications sent meanwhile were lost.

What is kept: the key, its account and user as the lookup read them, without the account's balance
(a call that reads it loads it fresh) and with `last_used_*` as this process last wrote them. Each
call gets its own copies. Unknown keys are not kept.
"""
from __future__ import annotations

import copy
import threading

from django.conf import settings
from django.db import connection

from accounts.models import ApiKey
from accounts.selectors import apikey_by_digest

CHANNEL = "smmpanel_api"
MAX_KEYS = 50_000  # beyond it the cache starts over (a key is ~2 KB of model rows)

_keys: dict[str, ApiKey] = {}
_generation = 0  # counts the times the cache was emptied
_lock = threading.Lock()


def enabled() -> bool:
    db = connection.settings_dict
    return bool(
        settings.API_KEY_CACHE
        and connection.vendor == "postgresql"
        and db.get("CONN_HEALTH_CHECKS")
        and db.get("CONN_MAX_AGE") != 0
    )


def forget_all(*_args) -> None:
    """Empty the cache (also the notification handler: any change empties all of it)."""
    global _generation
    with _lock:
        _keys.clear()
        _generation += 1


def _checked_connection() -> None:
    """Run the request's health check (once per request; it delivers pending notifications), and
    listen on a connection that does not yet."""
    with connection.cursor():  # Django runs the health check when the request first uses the connection
        pass
    raw = connection.connection
    if not getattr(raw, "smmpanel_listening", False):
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        raw.add_notify_handler(forget_all)
        raw.smmpanel_listening = True
        forget_all()  # what changed while nothing listened cannot be known


def _own_copy(cached: ApiKey) -> ApiKey:
    api_key, account, user = copy.copy(cached), copy.copy(cached.account), copy.copy(cached.account.user)
    account.user = user
    api_key.account = account
    return api_key


def apikey_for(*, digest: str) -> ApiKey | None:
    """The key row with this digest (see accounts.selectors.apikey_by_digest), from this process's
    cache when it is enabled and holds it; each call gets copies of its own."""
    if not enabled():
        return apikey_by_digest(digest=digest)
    _checked_connection()
    with _lock:
        cached = _keys.get(digest)
    if cached is not None:
        return _own_copy(cached)
    with _lock:
        generation = _generation
    api_key = apikey_by_digest(digest=digest)
    if api_key is not None:
        kept = _own_copy(api_key)
        del kept.account.__dict__["balance"]  # deferred: read from the database when a call asks
        with _lock:
            # Not kept if a notification came in with the lookup's answer: the row it read may be
            # older than the change notified (committed while the statement ran).
            if _generation == generation:
                if len(_keys) >= MAX_KEYS:
                    _keys.clear()
                _keys[digest] = kept
    return api_key


def note_use(*, digest: str, api_key: ApiKey) -> None:
    """Keep the last use this process just wrote, so its next calls do not write it again."""
    with _lock:
        cached = _keys.get(digest)
        if cached is not None:
            cached.last_used_at, cached.last_used_ip = api_key.last_used_at, api_key.last_used_ip
