"""Settings of the API benchmark's web server: the production settings plus the reference views.

The product's settings and URLs are used unchanged (DEBUG, SECRET_KEY, ALLOWED_HOSTS, database,
cache and rate limits come from the environment bench/api.py gives gunicorn); only the URLconf
adds the bench-only baselines under /bench/, so the product never ships them.
"""
from smmpanel.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
