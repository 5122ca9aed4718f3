"""Settings for the test suite: the real settings, pointed at PostgreSQL when it is reachable.

`make test` uses DATABASE_URL when set, else PostgreSQL at 127.0.0.1:5432 when it answers,
else SQLite (and the tests marked `postgres` are skipped; with CI=true they fail instead).
"""
import os
import socket
import tempfile


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="smmpanel-test-var-"))
if "DATABASE_URL" not in os.environ and _reachable("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/smmpanel"

from smmpanel.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")  # noqa: F405
if POSTGRES and "CONN_MAX_AGE" not in os.environ:
    # Live-server threads must not keep connections. Tests of server processes that need persistent
    # connections (the key cache's) set CONN_MAX_AGE for them.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# The suite talks to live servers over plain http: secure-only cookies would not come back from
# http clients (requests drops them), so the admin tests turn them off here, explicitly. Production
# keeps them on (settings.py: on unless DEBUG), and nothing here redirects to https.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
# Every test calls from 127.0.0.1 into one process-wide cache: the production limits would trip
# across tests. orders/tests/test_rate_limits.py sets tiny limits of its own with override_settings.
API_RATE_LIMIT_ADD = API_RATE_LIMIT_READ = API_RATE_LIMIT_ANON = "1000000/m"
# The request log flushes only when a test asks for it (or fills the buffer), never because a slow
# test crossed the age threshold: query-count tests must count the same statements every run.
API_LOG_FLUSH_SECONDS = 3600
