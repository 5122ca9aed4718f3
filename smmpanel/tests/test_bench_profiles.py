"""bench/profile_api.py's summary of py-spy's collapsed stacks (bench/apibench/profiles.py), on stacks
written by hand: no py-spy, no database, no server."""
from __future__ import annotations

from bench.apibench import profiles

MASTER = 'process 100:"python -m gunicorn smmpanel.wsgi:application"'
WORKER = MASTER + ';process 101:"python -m gunicorn smmpanel.wsgi:application"'
SERVING = ";".join([
    "Arbiter.run (gunicorn/arbiter.py:241)",
    "SyncWorker.run_for_one (gunicorn/workers/sync.py:58)",
    "SyncWorker.handle (gunicorn/workers/sync.py:134)",
    "WSGIHandler.__call__ (django/core/handlers/wsgi.py:120)",
    "RequestContextMiddleware.__call__ (smmpanel/logs.py:80)",
    "BaseHandler._get_response (django/core/handlers/base.py:174)",
    "ResellerApiView.dispatch (orders/api/views.py:40)",
    "APIView.dispatch (rest_framework/views.py:491)",
])
KEY_LOOKUP = ";".join([
    "apikey_verify (accounts/services.py:200)",
    "apikey_by_digest (accounts/selectors.py:30)",
    "QuerySet.get (django/db/models/query.py:619)",
    "SQLCompiler.execute_sql (django/db/models/sql/compiler.py:1560)",
    "CursorWrapper.execute (django/db/backends/utils.py:79)",
    "Cursor.execute (psycopg/cursor.py:97)",
])
MASTER_SLEEPING = f"{MASTER};Arbiter.run (gunicorn/arbiter.py:241);Arbiter.sleep (gunicorn/arbiter.py:360) 50"
BETWEEN_REQUESTS = (f"{WORKER};Arbiter.run (gunicorn/arbiter.py:241);SyncWorker.run_for_one (gunicorn/workers/sync.py:58);"
                    "SyncWorker.wait (gunicorn/workers/sync.py:35);DefaultSelector.select (selectors.py:468) 10")
WAITING_FOR_POSTGRESQL = f"{WORKER};{SERVING};{KEY_LOOKUP};Connection.wait (psycopg/connection.py:479) 30"
COMPILING = (f"{WORKER};{SERVING};apikey_verify (accounts/services.py:200);apikey_by_digest (accounts/selectors.py:30);"
             "QuerySet.get (django/db/models/query.py:619);Query.clone (django/db/models/sql/query.py:340);"
             "copy (copy.py:61) 20")  # on the CPU, in the ORM (via the standard library's copy)
WAITING_FOR_REDIS = (f"{WORKER};{SERVING};hit (orders/api/ratelimit.py:50);"
                     "RedisCache.incr (django/core/cache/backends/redis.py:200);"
                     "SocketBuffer._read_from_socket (redis/_parsers/socket.py:60) 15")  # the rate-limit counter
RENDERING = f"{WORKER};{SERVING};JSONRenderer.render (rest_framework/renderers.py:90);dumps (json/__init__.py:238) 25"
COLLAPSED = "\n".join([MASTER_SLEEPING, BETWEEN_REQUESTS, WAITING_FOR_POSTGRESQL, COMPILING, WAITING_FOR_REDIS,
                       RENDERING])


def summary() -> profiles.Summary:
    return profiles.summarise(profiles.parse(COLLAPSED, exclude_pids=frozenset({100})))


def test_frames_are_named_by_module_and_function():
    frame = profiles.parse_frame("apikey_by_digest (accounts/selectors.py:30)")
    assert frame.name == "accounts.selectors.apikey_by_digest"
    full = profiles.parse_frame("get (/work/.venv/lib/python3.11/site-packages/django/db/models/query.py:619)")
    assert full.path == "django/db/models/query.py"
    assert profiles.parse_frame("f (/usr/lib/python3.11/copy.py:61)").path == "copy.py"


def test_samples_split_into_between_requests_waiting_and_running():
    s = summary()
    assert s.samples == 100  # the master's 50 left out
    assert s.between_requests == 10
    assert s.in_request == 90
    assert s.waiting == 45
    assert s.waiting_on == {"PostgreSQL": 30, "Redis": 15}


def test_layers_inclusive_and_self():
    s = summary()
    assert s.layers["gunicorn"] == 90 and s.layers["DRF"] == 90
    assert s.layers["accounts"] == 50
    assert s.layers["Django ORM (query building, compiling)"] == 50
    assert s.layers["psycopg (driver, incl. waits)"] == 30
    assert s.layers["redis-py & Django cache"] == 15
    assert s.layers["JSON & rendering"] == 25
    # Each sample in one layer: the deepest classified frame's (copy.py counts for the ORM that called it).
    assert s.self_layers == {"psycopg (driver, incl. waits)": 30, "Django ORM (query building, compiling)": 20,
                             "redis-py & Django cache": 15, "JSON & rendering": 25}
    assert sum(s.self_layers.values()) == s.in_request


def test_our_modules_by_their_outermost_function():
    s = summary()
    assert s.ours["accounts"] == {"accounts.services.apikey_verify": 50}
    assert s.ours["orders.api"] == {"orders.api.views.ResellerApiView.dispatch": 90}
    assert s.ours["smmpanel.logs"] == {"smmpanel.logs.RequestContextMiddleware.__call__": 90}


def test_functions_inside_the_view_count_once_per_stack():
    s = summary()
    assert "django.core.handlers.base.BaseHandler._get_response" not in s.view_functions
    assert s.view_functions["accounts.selectors.apikey_by_digest"] == 50
    assert s.view_functions["rest_framework.views.APIView.dispatch"] == 90


def test_differences_per_request_add_up_to_the_extra_time():
    api = summary()
    reference = profiles.summarise(profiles.parse(
        f"{WORKER};{SERVING};{KEY_LOOKUP};Connection.wait (psycopg/connection.py:479) 100"))
    # 1 worker: the API's 100 samples over 50 req/s, the reference's over 100 req/s.
    found = profiles.differences(api, 50, reference, 100, workers=1)
    assert found[0].layer == "JSON & rendering"  # none in the reference, 25 % of 20 ms
    assert round(found[0].extra_ms, 2) == 5.0
    total = sum(d.extra_ms for d in found)
    assert round(total, 2) == round(api.ms_per_request(api.in_request, workers=1, rate=50) - 10.0, 2)
