"""Fixtures of the accounts tests."""
from __future__ import annotations

from apilog.buffer import pending


def pytest_sessionfinish(session, exitstatus):
    # The API calls of the suite leave request-log rows pending in this process; written at exit
    # they would go to a test database that no longer exists.
    pending.take()
