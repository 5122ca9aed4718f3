"""End to end: two live panels on loopback, B being A's provider (see live_panels.py).

Orders go in through A's HTTP API; A's worker forwards them to B's HTTP API, B's worker fulfils
them, and A's poller mirrors B. Every test ends with the money invariants on both panels.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from orders.tests.live_processes import wait_for
from providers.tests.live_panels import live_panels  # noqa: F401 - the module's fixture

pytestmark = pytest.mark.postgres

ORDER = ["Pending", "Processing", "In progress", "Completed"]


def place(panels, service: str, link: str, quantity: int) -> int:
    answer = panels.a.api(panels.reseller_key, "add", service=panels.a_services[service], link=link, quantity=quantity)
    assert set(answer) == {"order"}, answer
    return answer["order"]


def status_on_a(panels, order_id: int) -> dict:
    return panels.a.api(panels.reseller_key, "status", order=order_id)


def on_b(panels, order_id: int) -> tuple[str, dict]:
    upstream_id = panels.a.order(order_id)["provider_order_id"]
    return upstream_id, panels.b.api(panels.a_key_on_b, "status", order=upstream_id)


def orders_on_b(panels, link: str) -> int:
    return panels.b.rows("SELECT count(*) FROM orders_order WHERE link = %s", link)[0][0]


def a_balance_on_b(panels) -> str:
    return panels.b.api(panels.a_key_on_b, "balance")["balance"]


def money_checks(panels) -> None:
    panels.a.assert_money_consistent()
    panels.b.assert_money_consistent()


def test_an_order_placed_on_a_is_fulfilled_by_b_and_a_mirrors_it(live_panels):
    p = live_panels
    order_id = place(p, "fast", "https://instagram.com/e2e_complete", 1000)
    seen: list[dict] = []

    def completed():
        seen.append(status_on_a(p, order_id))
        return seen[-1]["status"] == "Completed"

    wait_for(completed, timeout=60, interval=0.25, message="A's order to complete")
    positions = [ORDER.index(answer["status"]) for answer in seen]
    assert positions == sorted(positions), seen  # never backwards
    remains = [answer["remains"] for answer in seen]
    assert remains == sorted(remains, reverse=True), seen  # never up
    upstream_id, upstream = on_b(p, order_id)
    assert upstream["status"] == "Completed"
    assert (seen[-1]["start_count"], seen[-1]["remains"], seen[-1]["charge"]) == (upstream["start_count"], 0, "5.00")
    assert p.a.order(order_id)["cost"] == Decimal("4.00000")  # B's charge: A's margin is 1.00
    assert p.a.ledger(order_id) == [("charge", Decimal("-5.00000"))]
    assert p.b.ledger(int(upstream_id)) == [("charge", Decimal("-4.00000"))]
    assert orders_on_b(p, "https://instagram.com/e2e_complete") == 1
    # A refill on A is passed on to B, which re-delivers what dropped (10 %); A mirrors its status.
    refill_id = p.a.api(p.reseller_key, "refill", order=order_id)["refill"]
    wait_for(lambda: p.a.api(p.reseller_key, "refill_status", refill=refill_id)["status"] == "Completed",
             timeout=60, interval=0.25, message="A's refill to complete")
    [(upstream_refill,)] = p.a.rows("SELECT provider_refill_id FROM orders_refill WHERE id = %s", refill_id)
    assert p.b.api(p.a_key_on_b, "refill_status", refill=upstream_refill) == {"status": "Completed"}
    assert p.b.rows("SELECT quantity FROM orders_refill WHERE id = %s", int(upstream_refill)) == [(100,)]
    money_checks(p)


def test_a_partial_on_b_refunds_both_resellers_the_undelivered_part(live_panels):
    p = live_panels
    order_id = place(p, "short", "https://instagram.com/e2e_partial", 1000)
    wait_for(lambda: status_on_a(p, order_id)["status"] == "Partial", timeout=60, interval=0.25, message="Partial on A")
    upstream_id, upstream = on_b(p, order_id)
    mine = status_on_a(p, order_id)
    assert upstream["status"] == "Partial" and 0 < upstream["remains"] < 1000
    assert mine["remains"] == upstream["remains"]
    remains = Decimal(mine["remains"])
    assert p.a.ledger(order_id) == [("charge", Decimal("-5.00000")), ("refund", Decimal(5) * remains / 1000)]
    assert p.b.ledger(int(upstream_id)) == [("charge", Decimal("-4.00000")), ("refund", Decimal(4) * remains / 1000)]
    assert p.a.order(order_id)["cost"] == Decimal(4) - Decimal(4) * remains / 1000  # what A's account at B paid
    money_checks(p)


def test_b_out_of_funds_holds_the_order_on_a_until_an_operator_resends_it(live_panels):
    p = live_panels
    link = "https://instagram.com/e2e_funds"
    before_on_b = a_balance_on_b(p)
    order_id = place(p, "pricey", link, 1500)  # 150.00 at B, more than A has there
    wait_for(lambda: p.a.order(order_id)["hold_reason"] == "provider_out_of_funds", timeout=60, message="the hold")
    assert status_on_a(p, order_id)["status"] == "Pending"
    assert p.a.order(order_id)["provider_submitted_at"] is None
    assert p.a.ledger(order_id) == [("charge", Decimal("-187.50000"))]  # charged once, nothing refunded
    assert orders_on_b(p, link) == 0 and a_balance_on_b(p) == before_on_b
    # The operator tops A up at B, then resends the order: it is submitted once more, and once.
    p.b.manage("add_funds", "panel_a", "100")
    p.a.shell(f"from orders.services import order_resend; order_resend(order_id={order_id}, actor='operator:e2e'); print(1)")
    wait_for(lambda: status_on_a(p, order_id)["status"] == "Completed", timeout=60, interval=0.25, message="Completed")
    assert orders_on_b(p, link) == 1
    assert p.a.ledger(order_id) == [("charge", Decimal("-187.50000"))]
    money_checks(p)


def test_while_b_is_down_the_order_waits_and_is_submitted_once_when_b_returns(live_panels):
    p = live_panels
    link = "https://instagram.com/e2e_down"
    p.b.stop_web()
    try:
        order_id = place(p, "fast", link, 200)
        wait_for(lambda: p.a.order(order_id)["provider_failures"] >= 2, timeout=60, message="failed submissions")
        state = p.a.order(order_id)
        assert (state["hold_reason"], state["provider_order_id"]) == ("", None)
        assert status_on_a(p, order_id)["status"] == "Pending"
    finally:
        p.b.start_web()
    wait_for(lambda: status_on_a(p, order_id)["status"] == "Completed", timeout=60, interval=0.25, message="Completed")
    assert orders_on_b(p, link) == 1
    assert p.a.ledger(order_id) == [("charge", Decimal("-1.00000"))]
    money_checks(p)


def test_a_cancel_on_a_goes_to_b_and_ends_canceled_with_refunds_on_both_sides(live_panels):
    p = live_panels
    order_id = place(p, "slow", "https://instagram.com/e2e_cancel", 1000)  # starts on B in an hour
    wait_for(lambda: p.a.order(order_id)["provider_order_id"], timeout=60, message="forwarded")
    assert p.a.api(p.reseller_key, "cancel", order=order_id) == {"cancel": order_id, "status": "success"}
    assert p.a.api(p.reseller_key, "cancel", order=order_id) == {"error": "Order cannot be canceled"}
    wait_for(lambda: status_on_a(p, order_id)["status"] == "Canceled", timeout=60, interval=0.25, message="Canceled")
    upstream_id, upstream = on_b(p, order_id)
    assert upstream["status"] == "Canceled"
    assert p.a.ledger(order_id) == [("charge", Decimal("-5.00000")), ("refund", Decimal("5.00000"))]
    assert p.b.ledger(int(upstream_id)) == [("charge", Decimal("-4.00000")), ("refund", Decimal("4.00000"))]
    assert p.a.order(order_id)["cost"] == 0  # B refunded A in full
    money_checks(p)
