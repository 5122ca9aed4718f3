"""Fixtures for the orders tests: real worker processes and private Redis servers (live_processes)."""
from orders.tests.live_processes import private_redis, processes  # noqa: F401 - pytest finds fixtures here
