"""One settings module; everything that differs between machines comes from the environment.

See docs/operations.md for the variables. With none set, the panel runs on the embedded
defaults: SQLite under VAR_DIR, debug off unless DEBUG is set.
"""
from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Everything one instance writes lives here, so two instances never share state.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-only-for-debug")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required in production: refuse to start without it

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

PANEL_CURRENCY = env.str("PANEL_CURRENCY", default="TRY")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "health_check",
    "smmpanel",
    "catalog",
    "accounts",
    "orders",
    "apilog",
    "providers",
]

MIDDLEWARE = [
    # First: every later log line carries the request id; the metrics see every answer.
    "smmpanel.logs.RequestContextMiddleware",
    "smmpanel.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's) straight from gunicorn, collected into STATIC_ROOT at image build.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login lockout: after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is locked for AXES_COOLOFF_HOURS; `manage.py axes_reset` (or axes_reset_username)
# lifts it. Locking the pair, not the username alone, keeps a guesser from locking out operators.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# The API paths are routed with and without a trailing slash; a redirect would turn a client's
# POST into a body-less GET, so CommonMiddleware must never add one.
APPEND_SLASH = False

# --- HTTPS and cookies (docs/security.md) ---------------------------------------------------
# Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER=1 trusts its X-Forwarded-Proto (only
# when the proxy always sets it). SECURE_SSL_REDIRECT sends plain-http admin pages to https; the
# API and health paths are exempt: API.md forbids redirects (a redirected POST loses its body).
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^api/v[12]/?$", r"^api\.php/?$", r"^health/", r"^metrics$"]  # clients that must not be redirected
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "smmpanel.urls"
WSGI_APPLICATION = "smmpanel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "smmpanel" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and commands all write. SQLite ignores select_for_update, so every write
    # transaction takes the database's write lock at BEGIN (IMMEDIATE) and waits for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one (collectstatic fills it in the image)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies, no manifest: a run without collectstatic (tests, `make run`) still renders.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# API.md: a body up to 1 MB; beyond it the API answers "Request too large". All the request
# limits, and where each is enforced: docs/security.md, "Request limits" (the request line and
# headers: gunicorn.conf.py; field lengths: smmpanel/fields.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_048_576
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000  # form, multipart and query-string fields; JSON keys too (orders/api/request.py)
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# = the body limit: an uploaded file part (ignored by the API) stays in memory, never a temp file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1_048_576

REST_FRAMEWORK = {
    # The reseller API authenticates by its own `key` field: no sessions, hence no CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.JSONParser",
    ],
    "EXCEPTION_HANDLER": "orders.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- Redis, cache and Celery ---------------------------------------------------------------
# REDIS_URL sets broker and cache at once; CELERY_BROKER_URL / CACHE_URL override each. Without
# them the panel needs no server: kombu's filesystem transport and a local-memory cache.
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {"default": env.cache("CACHE_URL", default=REDIS_URL.replace("redis://", "rediscache://", 1) or "locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The rate limiter asks the cache on every API call and fails open when it raises. A Redis that
    # hangs (accepts, never answers) raises nothing by itself: redis-py waits 5 s per read by
    # default. Short timeouts make a hung Redis fail like a dead one, in a fraction of a second.
    CACHES["default"].setdefault("OPTIONS", {}).update({
        "socket_connect_timeout": env.float("CACHE_SOCKET_CONNECT_TIMEOUT", default=0.5),
        "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.5),
    })

# Reseller API rate limits (orders/api/ratelimit.py): "N/s|m|h|d", empty or 0 for none. Counted in
# the cache above, so shared by all web processes only when that is Redis (not local memory).
API_RATE_LIMIT_ADD = env.str("API_RATE_LIMIT_ADD", default="600/m")  # `add` calls per API key
API_RATE_LIMIT_READ = env.str("API_RATE_LIMIT_READ", default="3000/m")  # every other call per key
API_RATE_LIMIT_ANON = env.str("API_RATE_LIMIT_ANON", default="120/m")  # per address, no valid key
# Web processes keep API key lookups in memory, emptied by PostgreSQL notifications on any change
# (accounts/key_cache.py); only with PostgreSQL, CONN_HEALTH_CHECKS and a CONN_MAX_AGE other than 0.
API_KEY_CACHE = env.bool("API_KEY_CACHE", default=True)
# Proxies in front of web that append to X-Forwarded-For (a TLS proxy: 1); 0 trusts REMOTE_ADDR only.
# The one client address (smmpanel/client_address.py) of rate limits, key allow-lists and the log.
API_TRUSTED_PROXIES = env.int("API_TRUSTED_PROXIES", default=0)

# The API request log (apilog/): rows wait in each web process's memory and are written with one
# INSERT after a call's response once API_LOG_BUFFER_SIZE are pending or the oldest waited
# API_LOG_FLUSH_SECONDS, and when the process exits. Beat purges rows older than the retention.
API_LOG_RETENTION_DAYS = env.int("API_LOG_RETENTION_DAYS", default=30)
API_LOG_BUFFER_SIZE = env.int("API_LOG_BUFFER_SIZE", default=100)
API_LOG_FLUSH_SECONDS = env.float("API_LOG_FLUSH_SECONDS", default=5.0)
if API_LOG_RETENTION_DAYS < 1 or API_LOG_BUFFER_SIZE < 1:
    raise ImproperlyConfigured("API_LOG_RETENTION_DAYS and API_LOG_BUFFER_SIZE must be at least 1")

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport, writing each message atomically (smmpanel/broker.py says why).
    CELERY_BROKER_TRANSPORT = "smmpanel.broker:Transport"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcasts (worker pings from /health/, remote control) keep their tables here too,
        # not in a `control/` folder under the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Unacked messages come back after this; the database sweep redoes lost work long before.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # A broker outage must not hang a request that publishes a wake-up after commit.
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
        "max_retries": 0,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker reconnects (every 30 s at most) however long the broker is away: Celery's default
# gives up after 100 tries, about 46 minutes, and the worker exits, leaving orders undone.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 50
CELERY_TASK_TIME_LIMIT = 60
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Fulfillment engine ------------------------------------------------------------------------
FULFILLMENT_TICK_SECONDS = env.float("FULFILLMENT_TICK_SECONDS", default=5.0)
FULFILLMENT_BATCH_SIZE = env.int("FULFILLMENT_BATCH_SIZE", default=5000)
# A tick stops taking new batches after this long, well inside the task time limit.
FULFILLMENT_TICK_BUDGET_SECONDS = env.float("FULFILLMENT_TICK_BUDGET_SECONDS", default=30.0)
# Per-order tasks that keep dying (e.g. killing their worker) are parked after this many tries.
FULFILLMENT_MAX_ATTEMPTS = env.int("FULFILLMENT_MAX_ATTEMPTS", default=3)
# A test and demo knob: how many seconds a "minute" of the simulated engine lasts, for service
# speeds (units per minute) and drip-feed intervals (minutes, at least 1 in the API) alike. Keep
# 60 in production; the real-worker drip-feed test sets 1, so a 1-minute interval takes a second.
FULFILLMENT_MINUTE_SECONDS = env.float("FULFILLMENT_MINUTE_SECONDS", default=60.0)
if FULFILLMENT_MINUTE_SECONDS <= 0:
    raise ImproperlyConfigured("FULFILLMENT_MINUTE_SECONDS must be above 0")

# --- Upstream providers ------------------------------------------------------------------------
# Seconds to connect to a provider's API, and to wait for each read of its answer. A read that
# times out after an `add` was sent leaves the order on hold (needs_checking), never re-sent.
PROVIDER_CONNECT_TIMEOUT_SECONDS = env.float("PROVIDER_CONNECT_TIMEOUT_SECONDS", default=5.0)
PROVIDER_READ_TIMEOUT_SECONDS = env.float("PROVIDER_READ_TIMEOUT_SECONDS", default=30.0)
# How often beat syncs every active provider's catalog into ours (prices, bounds, pauses).
PROVIDER_SYNC_SECONDS = env.float("PROVIDER_SYNC_SECONDS", default=900.0)
if PROVIDER_SYNC_SECONDS <= 0:
    raise ImproperlyConfigured("PROVIDER_SYNC_SECONDS must be above 0")
# How often beat polls providers for the status of forwarded orders, and how many orders of one
# provider a run asks about (in calls of 100 ids), least recently checked first.
PROVIDER_POLL_SECONDS = env.float("PROVIDER_POLL_SECONDS", default=30.0)
PROVIDER_POLL_MAX_ORDERS = env.int("PROVIDER_POLL_MAX_ORDERS", default=5000)
# After a failed submission that never reached the provider, the next try waits a tick, doubling
# with each failure, at most this long.
PROVIDER_RETRY_MAX_SECONDS = env.float("PROVIDER_RETRY_MAX_SECONDS", default=300.0)
# A submission claimed longer ago than this without an answer recorded (its worker died) is held
# needs_checking. Longer than any `add` call can last (both timeouts) plus the task's time limit.
PROVIDER_SUBMIT_GRACE_SECONDS = env.float("PROVIDER_SUBMIT_GRACE_SECONDS", default=180.0)

CELERY_BEAT_SCHEDULE = {
    "fulfillment-tick": {
        "task": "orders.tasks.fulfillment_tick",
        "schedule": FULFILLMENT_TICK_SECONDS,
        # A tick that could not start in time is dropped: the next one covers its work.
        "options": {"expires": FULFILLMENT_TICK_SECONDS},
    },
    # Bounded batches per run (apilog.services.api_requests_purge); the next hour continues.
    "api-log-purge": {
        "task": "apilog.tasks.api_log_purge",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "providers-catalog-sync": {
        "task": "providers.tasks.providers_catalog_sync",
        "schedule": PROVIDER_SYNC_SECONDS,
        "options": {"expires": PROVIDER_SYNC_SECONDS},
    },
    "providers-poll": {
        "task": "providers.tasks.providers_poll",
        "schedule": PROVIDER_POLL_SECONDS,
        "options": {"expires": PROVIDER_POLL_SECONDS},
    },
}

# --- Logs and metrics ------------------------------------------------------------------------
# JSON lines in production, readable text with DEBUG; LOG_FORMAT (json / text) overrides. Each
# record carries request_id, account, order_id and task_id when bound (see smmpanel/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "smmpanel.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "smmpanel.logs.JsonFormatter"},
        "text": {"()": "smmpanel.logs.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# Celery workers keep these handlers (and so the format) instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# /metrics asks for `Authorization: Bearer <METRICS_TOKEN>` when set; open otherwise.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
