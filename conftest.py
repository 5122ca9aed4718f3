"""Suite-wide fixtures: a live server client speaking the reseller API, and the PostgreSQL and browser gates."""
from __future__ import annotations

import importlib.util
import os
from decimal import Decimal

import pytest
import requests
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's `chromium`, installed by .ci/run


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (make test installs requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(autouse=True)
def _empty_request_log_buffer():
    """Each test starts and ends with no request-log rows pending in this process: rows of one
    test's (rolled-back) data must not be written by another, nor at exit to a database gone."""
    from apilog.buffer import pending

    pending.take()
    yield
    pending.take()


@pytest.fixture(autouse=True)
def _fresh_catalog_snapshot():
    """Each test starts like a new process, holding no catalog rows: a rolled-back test's catalog
    can come back under the same version token with other settings around it."""
    from catalog import snapshot

    snapshot.forget()


def pytest_sessionfinish(session, exitstatus):
    from apilog.buffer import pending

    pending.take()  # not for the atexit flush: the test database is gone by then


def pytest_collection_modifyitems(config, items):
    missing = {}
    if not settings.POSTGRES:
        missing["postgres"] = "PostgreSQL is not reachable (set DATABASE_URL or start it on 127.0.0.1:5432)"
    if reason := _browser_missing():
        missing["browser"] = reason
    for item in items:
        for marker, reason in missing.items():
            if marker in item.keywords:
                if os.environ.get("CI") == "true":
                    item.add_marker(pytest.mark.usefixtures(f"_fail_without_{marker}"))
                else:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _fail_without_postgres():
    pytest.fail("CI=true: this test needs PostgreSQL, which is not reachable")


@pytest.fixture
def _fail_without_browser():
    pytest.fail(f"CI=true: this test needs a browser: {_browser_missing()}")


class ApiClient:
    """Posts form-encoded fields to the live server's endpoint, as reseller clients do."""

    def __init__(self, base_url: str, key: str | None = None, path: str = "/api/v2"):
        self.url = base_url + path
        self.key = key

    def post(self, action: str | None = None, **fields) -> requests.Response:
        data = {"key": self.key, "action": action, **fields}
        # A fresh connection per call: kept-alive connections to the live server stall ~40 ms each.
        return requests.post(self.url, data={k: v for k, v in data.items() if v is not None}, timeout=30)

    def __call__(self, action: str | None = None, **fields):
        response = self.post(action, **fields)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/json", response.headers
        return response.json()


@pytest.fixture
def reseller(db):
    from accounts.tests.factories import reseller_with_key

    return reseller_with_key("alice", Decimal("100"))


@pytest.fixture
def api(live_server, reseller) -> ApiClient:
    return ApiClient(live_server.url, reseller.key)
