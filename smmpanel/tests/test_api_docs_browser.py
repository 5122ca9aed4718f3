"""The API reference page (/api/) in a real headless Chromium: an operator reaches it from the
admin, and a reseller (not logged in) finds every action with its examples, the service types
and the errors, on a page that fits the window. A full-page screenshot goes to
$SCREENSHOT_DIR/api-docs.png (default var/screenshots/). Fixtures: smmpanel/tests/conftest.py.
"""
from __future__ import annotations

import pytest

from catalog.service_types import TYPE_SPECS
from orders.api.reference import ERRORS, action_groups
from smmpanel.tests.admin_helpers import operator
from smmpanel.tests.test_admin_browser import log_in, submit

pytestmark = pytest.mark.browser


def test_operator_opens_the_api_docs_from_the_admin(page):
    operator("root", superuser=True)
    log_in(page, "root")

    submit(page, "#user-tools >> text=API docs")

    assert page.url.endswith("/api/")
    assert page.locator("h1").inner_text() == "Reseller API"


def test_api_docs_page_reads_in_a_browser(page, live_server, screenshots):
    page.goto("/api/")  # no login: resellers read it

    assert page.title().startswith("Reseller API")
    assert page.locator("#endpoint").inner_text() == f"{live_server.url}/api/v2"
    assert page.locator("main h2").all_inner_texts() == [
        "Transport", "Values", "Actions", "Service types", "Errors", "Python example",
    ]
    groups = action_groups()
    assert page.locator("nav.toc ol ol a").all_inner_texts() == [group.doc.name for group in groups]
    for group in groups:
        action = page.locator(f"#action-{group.key}")
        assert action.locator("h3 code").inner_text() == group.doc.name
        assert action.locator(".alias").all_inner_texts() == group.aliases
        assert action.locator(".example").count() >= 1, group.key
        assert action.locator(".example pre.shell").first.inner_text().startswith(f"curl {live_server.url}/api/v2")
    assert page.locator("#types tbody tr").count() == len(TYPE_SPECS)
    listed = [doc.message for doc in ERRORS if doc.action is None or doc.action in {group.key for group in groups}]
    assert page.locator("#error-table td.error-msg").all_inner_texts() == listed
    assert "call(\"add\"" in page.locator("#python-example").inner_text()

    # The contents jump to an action; an error's example link leads to a recorded refusal.
    page.click("nav.toc a[href='#action-cancel']")
    assert page.url.endswith("#action-cancel")
    page.click("#error-table tr:has-text('Insufficient balance') a")
    assert '"error": "Insufficient balance"' in page.locator("#error-balance pre.answer").inner_text()

    # Long curl lines and answers scroll inside their boxes, not the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 420, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/api/")
    page.screenshot(path=str(screenshots / "api-docs.png"), full_page=True)
