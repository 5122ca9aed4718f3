"""An operator's day in a real headless Chromium against the live server: log in, create a
reseller and read its key, fund it, find the order it placed through the API, cancel it and see
the refund in the order, the ledger and the balance; a Support user is refused the money pages.

Screenshots of the admin index (the dashboard) and the orders list go to $SCREENSHOT_DIR
(default var/screenshots/). The browser fixtures are in smmpanel/tests/conftest.py.
"""
from __future__ import annotations

import re

import pytest
import requests

from accounts.models import Account
from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from smmpanel.tests.admin_helpers import PASSWORD, operator

pytestmark = pytest.mark.browser


def submit(page, selector: str) -> None:
    """Click what sends a form (or follows a link) and wait for the next page."""
    with page.expect_navigation():
        page.click(selector)


def log_in(page, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    submit(page, "input[type=submit]")
    assert page.url.endswith("/admin/"), page.url


def text(locator) -> str:
    """What a part of the page says, whitespace collapsed (and not upper-cased by CSS)."""
    return " ".join(locator.text_content().split())


def messages(page) -> list[str]:
    return [text.strip() for text in page.locator("ul.messagelist li").all_text_contents()]


def test_operator_funds_a_new_reseller_and_refunds_its_api_order(page, live_server, screenshots):
    operator("root", superuser=True)
    service = ServiceFactory(rate="5")

    log_in(page, "root")

    # A reseller and its key, shown once.
    page.goto("/admin/accounts/account/add/")
    page.fill("#id_username", "carol")
    submit(page, "input[type=submit]")
    key = page.inner_text("#api-key").strip()
    assert len(key) == 43
    submit(page, "text=Back to carol")
    account = Account.objects.get(user__username="carol")
    assert page.url.endswith(f"/admin/accounts/account/{account.pk}/change/")

    # Funds, through the form on the reseller's page.
    submit(page, "text=Add funds")
    page.fill("#id_amount", "50")
    page.fill("#id_memo", "wire 2026-11-30")
    submit(page, "input[type=submit]")
    assert messages(page) == ["Add funds: 50.00 — balance of carol is now 50.00."]

    # The reseller orders through the API with that key.
    def add(link: str) -> int:
        answer = requests.post(f"{live_server.url}/api/v2", timeout=30, data={
            "key": key, "action": "add", "service": service.pk, "link": link, "quantity": "1000"})
        return answer.json()["order"]

    order_id = add("https://instagram.com/carol")
    for n in range(3):
        add(f"https://instagram.com/carol.friend{n}")

    page.goto("/admin/")
    page.screenshot(path=str(screenshots / "admin-index.png"), full_page=True)

    # Found by its id, canceled with the action.
    page.goto("/admin/orders/order/")
    page.fill("#searchbar", str(order_id))
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    # (A number also matches the links that contain it; the order is among the results.)
    row = page.locator(f"#result_list tbody tr:has(input[name=_selected_action][value='{order_id}'])")
    assert row.count() == 1 and "Pending" in row.inner_text()
    page.check(f"input[name=_selected_action][value='{order_id}']")
    page.select_option("select[name=action]", "cancel_and_refund")
    submit(page, "button[name=index]")
    assert messages(page) == ["Canceled and refunded: 1 order(s), now Canceled 1."]
    page.goto("/admin/orders/order/")
    page.screenshot(path=str(screenshots / "orders-list.png"), full_page=True)

    # The refund: on the order's page, in the ledger, in the balance.
    page.goto(f"/admin/orders/order/{order_id}/change/")
    money = text(page.locator("#ledger_entries-group tbody tr:has-text('Refund')"))
    assert re.search(r"Refund 5\.00000 35\.00000 - root", money), money
    history = text(page.locator("#events-group tbody tr.has_original").last)
    assert re.search(r"Pending Canceled canceled by operator operator:root", history), history

    page.goto(f"/admin/accounts/ledgerentry/?account__id__exact={account.pk}")
    cells = page.locator("#result_list tbody tr").first.locator("td, th").all_text_contents()
    assert cells[2:] == ["carol", "Refund", "5.00000", "35.00000", f"#{order_id}", "-", "root"], cells
    totals = page.locator("#ledger-totals tr:has-text('All') th").all_text_contents()
    assert totals == ["All", "", "35.00"], totals  # 50 − 4 × 5 + 5

    page.goto(f"/admin/accounts/account/{account.pk}/change/")
    assert text(page.locator(".field-balance_display .readonly")) == "35.00"


def test_support_sees_a_reseller_but_no_money_action(page):
    alice = reseller_with_key("alice", "10")
    operator("sam", "Support")

    log_in(page, "sam")
    page.goto(f"/admin/accounts/account/{alice.pk}/change/")

    assert text(page.locator(".field-balance_display .readonly")) == "10.00"
    tools = page.locator(".object-tools").text_content()
    assert "Ledger" in tools and "Orders" in tools
    for button in ("Add funds", "Deduct funds", "Adjust", "Issue new API key"):
        assert page.get_by_role("link", name=button).count() == 0, button
    for path in ("funds/add/", "funds/deduct/", "new-key/"):
        response = page.goto(f"/admin/accounts/account/{alice.pk}/{path}")
        assert response.status == 403, path
    assert Account.objects.get(pk=alice.pk).balance == 10
