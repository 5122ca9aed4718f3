"""Fixtures for the provider tests: a stub panel on loopback, and a client pointed at it."""
from __future__ import annotations

import pytest

from providers.client import ProviderClient
from providers.tests.stub_panel import StubPanel

STUB_KEY = "stub-secret-key-0123456789abcdef"


@pytest.fixture
def panel():
    stub = StubPanel().start()
    yield stub
    stub.stop()


@pytest.fixture
def client(panel) -> ProviderClient:
    # A short read timeout, so the slow-answer tests take a fraction of a second.
    return ProviderClient(api_url=panel.url, api_key=STUB_KEY, name="stub", connect_timeout=2, read_timeout=0.5)
