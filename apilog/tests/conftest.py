"""Request-log fixtures: each test starts with an empty buffer; the suite's leftovers are dropped
at its end (rows of rolled-back test data would only be refused by a database already gone)."""
from __future__ import annotations

import pytest

from apilog.buffer import pending


def pytest_sessionfinish(session, exitstatus):
    pending.take()


@pytest.fixture(autouse=True)
def empty_log_buffer():
    pending.take()
    yield
    pending.take()
