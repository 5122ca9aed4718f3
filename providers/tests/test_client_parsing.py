"""The client reads what other panels answer, through real HTTP to a stub panel: numbers as strings
or numbers, statuses in their many spellings, missing values, extra fields, other shapes."""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.service_types import ServiceType
from orders.models import OrderStatus, RefillStatus
from providers.client import BATCH_SIZE, Balance, CancelAnswer, UpstreamService, UpstreamStatus
from providers.tests.conftest import STUB_KEY
from providers.tests.stub_panel import Reply


def test_every_call_is_a_form_post_of_key_and_action(panel, client):
    panel.reply("balance", {"balance": "1.00", "currency": "USD"})
    client.balance()
    [call] = panel.requests
    assert call.fields == {"key": STUB_KEY, "action": "balance"}
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_services_in_the_shapes_panels_send(panel, client):
    panel.reply("services", [
        # Our own shape.
        {"service": 1, "name": "IG Followers", "category": "Instagram", "rate": "5.0000", "min": 100,
         "max": 5000, "type": "Default", "refill": True, "cancel": True, "dripfeed": False, "description": "Fast"},
        # Strings for every number, flags as "1"/"0", an odd type spelling, extra fields.
        {"service": "2", "name": "TT Comments", "category": "TikTok", "rate": "0.012345", "min": "10",
         "max": "1000.00", "type": "custom_comments", "refill": "0", "cancel": "1", "dripfeed": 1,
         "average_time": "3 hours", "desc": "Custom"},
        # Floats, no flags or description at all, a type we do not sell.
        {"service": 3.0, "name": "YT Views", "category": "YouTube", "rate": 1.5, "min": 1000.0, "max": 10000000,
         "type": "Subscriptions"},
        # Unusable: no rate, no id, a rate that is not a number — left out.
        {"service": 4, "name": "No rate", "min": 1, "max": 2},
        {"name": "No id", "rate": "1", "min": 1, "max": 2},
        {"service": 6, "name": "Bad rate", "rate": "N/A", "min": 1, "max": 2},
        "not an object",
    ])
    services = client.services()
    assert services == [
        UpstreamService(service_id="1", name="IG Followers", category="Instagram", type="Default",
                        service_type=ServiceType.DEFAULT, rate=Decimal("5.0000"), min_quantity=100,
                        max_quantity=5000, refill=True, cancel=True, dripfeed=False, description="Fast"),
        UpstreamService(service_id="2", name="TT Comments", category="TikTok", type="custom_comments",
                        service_type=ServiceType.CUSTOM_COMMENTS, rate=Decimal("0.012345"), min_quantity=10,
                        max_quantity=1000, refill=False, cancel=True, dripfeed=True, description="Custom"),
        UpstreamService(service_id="3", name="YT Views", category="YouTube", type="Subscriptions",
                        service_type=None, rate=Decimal("1.5"), min_quantity=1000, max_quantity=10000000,
                        refill=False, cancel=False, dripfeed=False, description=""),
    ]


def test_services_keyed_by_id(panel, client):
    panel.reply("services", {"7": {"service": 7, "name": "X", "rate": "2", "min": 1, "max": 9}})
    assert [(s.service_id, s.rate) for s in client.services()] == [("7", Decimal("2"))]


def test_add_sends_every_type_field_and_reads_the_id_as_text(panel, client):
    panel.reply("add", {"order": 987654321}, {"order": "42"}, {"order": 43.0, "extra": "ignored"})
    assert client.add(service_id=5, link="https://instagram.com/a", quantity=1000, runs=3, interval=15) == "987654321"
    assert client.add(service_id="6", link="https://x.com/p", comments="one\ntwo", usernames="a\nb",
                      hashtags="#a\n#b", hashtag="a", username="u", media="https://x.com/m",
                      answer_number=2, keywords="k1\nk2") == "42"
    assert client.add(service_id=7, link="@handle", quantity=None) == "43"
    first, second, third = panel.calls("add")
    assert first.fields == {"key": STUB_KEY, "action": "add", "service": "5", "link": "https://instagram.com/a",
                            "quantity": "1000", "runs": "3", "interval": "15"}
    assert second.fields == {"key": STUB_KEY, "action": "add", "service": "6", "link": "https://x.com/p",
                             "comments": "one\ntwo", "usernames": "a\nb", "hashtags": "#a\n#b", "hashtag": "a",
                             "username": "u", "media": "https://x.com/m", "answer_number": "2",
                             "keywords": "k1\nk2"}
    assert "quantity" not in third.fields


@pytest.mark.parametrize(("raw", "mapped"), [
    ("Pending", OrderStatus.PENDING),
    ("Processing", OrderStatus.PROCESSING),
    ("In progress", OrderStatus.IN_PROGRESS),
    ("inprogress", OrderStatus.IN_PROGRESS),
    ("In Progress", OrderStatus.IN_PROGRESS),
    ("in_progress", OrderStatus.IN_PROGRESS),
    ("Completed", OrderStatus.COMPLETED),
    ("Partial", OrderStatus.PARTIAL),
    ("Canceled", OrderStatus.CANCELED),
    ("Cancelled", OrderStatus.CANCELED),
    ("canceled", OrderStatus.CANCELED),
    ("Refunded", OrderStatus.CANCELED),
    ("Error", None),
    ("Fail", None),
    ("Awaiting", None),
    ("", None),
])
def test_status_spellings(panel, client, raw, mapped):
    panel.reply("status", {"charge": "1.5", "start_count": "10", "status": raw, "remains": "0"})
    status = client.status(99)
    assert (status.status, status.raw_status) == (mapped, raw)
    assert status.failed is (raw in ("Error", "Fail"))
    assert panel.calls("status")[0].fields["order"] == "99"


@pytest.mark.parametrize(("answer", "expected"), [
    ({"charge": "0.27819", "start_count": 3572, "status": "In progress", "remains": 157, "currency": "USD"},
     UpstreamStatus(status=OrderStatus.IN_PROGRESS, raw_status="In progress", charge=Decimal("0.27819"),
                    start_count=3572, remains=157, currency="USD")),
    ({"charge": 2, "start_count": "1000.00", "status": "Completed", "remains": "0.0", "currency": ""},
     UpstreamStatus(status=OrderStatus.COMPLETED, raw_status="Completed", charge=Decimal("2"),
                    start_count=1000, remains=0, currency=None)),
    # Missing, null and empty values are None, not 0: the caller decides what "unknown" means.
    ({"status": "Pending", "charge": None, "start_count": "", "currency": None},
     UpstreamStatus(status=OrderStatus.PENDING, raw_status="Pending")),
    # Over-delivery: some panels send negative remains.
    ({"status": "Completed", "remains": "-25", "charge": "5.0000"},
     UpstreamStatus(status=OrderStatus.COMPLETED, raw_status="Completed", charge=Decimal("5.0000"), remains=0)),
])
def test_status_values(panel, client, answer, expected):
    panel.reply("status", answer)
    assert client.status("12") == expected


def test_status_many_keyed_by_id_in_batches_of_100(panel, client):
    def by_id(fields):
        return {order_id: {"status": "Partial", "remains": order_id, "charge": "1.00"} if int(order_id) % 2
                else {"error": "Incorrect order ID"} for order_id in fields["orders"].split(",")}

    panel.reply("status", by_id)
    ids = list(range(1, 2 * BATCH_SIZE + 6))
    statuses = client.status_many(ids + [1, "2"])  # repeats are asked once
    assert [len(call.fields["orders"].split(",")) for call in panel.calls("status")] == [100, 100, 5]
    assert set(statuses) == {str(i) for i in ids}
    assert statuses["7"] == UpstreamStatus(status=OrderStatus.PARTIAL, raw_status="Partial",
                                           charge=Decimal("1.00"), remains=7)
    assert statuses["8"] == UpstreamStatus(status=None, raw_status="", error="Incorrect order ID")


def test_status_many_as_a_list_and_with_ids_left_out(panel, client):
    panel.reply("status", [
        {"order": 11, "status": "completed", "remains": 0},
        {"order": "12", "status": "inprogress", "remains": "50"},
        {"order": 99, "status": "Completed"},  # not asked for: ignored
    ])
    statuses = client.status_many(["11", "12", "13"])
    assert {key: (s.status, s.remains) for key, s in statuses.items()} == {
        "11": (OrderStatus.COMPLETED, 0), "12": (OrderStatus.IN_PROGRESS, 50),
    }


def test_balance_variants(panel, client):
    panel.reply("balance", {"balance": "125.50", "currency": "USD"}, {"balance": 3, "currency": "try"},
                {"balance": "0.0012345"})
    assert client.balance() == Balance(amount=Decimal("125.50"), currency="USD")
    assert client.balance() == Balance(amount=Decimal("3"), currency="TRY")
    assert client.balance() == Balance(amount=Decimal("0.0012345"), currency=None)


def test_cancel_batch_and_single_forms(panel, client):
    panel.reply(
        "cancel",
        [{"order": 1, "cancel": 1}, {"order": "2", "cancel": {"error": "Order cannot be canceled"}},
         {"order": 3, "cancel": "1"}],
        {"cancel": 4, "status": "success"},
    )
    assert client.cancel([1, 2, 3]) == [
        CancelAnswer(order_id="1", accepted=True),
        CancelAnswer(order_id="2", accepted=False, error="Order cannot be canceled"),
        CancelAnswer(order_id="3", accepted=True),
    ]
    assert client.cancel(["4"]) == [CancelAnswer(order_id="4", accepted=True)]
    assert [call.fields["orders"] for call in panel.calls("cancel")] == ["1,2,3", "4"]


def test_refill_and_refill_status(panel, client):
    panel.reply("refill", {"refill": "77"}, {"refill": 78})
    panel.reply("refill_status", {"status": "Completed"}, {"status": "inprogress"}, {"status": "Rejected"},
                {"status": "Whatever"})
    assert (client.refill(5), client.refill("6")) == ("77", "78")
    assert [(s.status, s.raw_status) for s in (client.refill_status(77) for _ in range(4))] == [
        (RefillStatus.COMPLETED, "Completed"), (RefillStatus.IN_PROGRESS, "inprogress"),
        (RefillStatus.REJECTED, "Rejected"), (None, "Whatever"),
    ]
    assert [c.fields["order"] for c in panel.calls("refill")] == ["5", "6"]
    assert panel.calls("refill_status")[0].fields["refill"] == "77"


def test_php_notices_before_the_json_are_tolerated(panel, client):
    panel.reply("add", Reply(body=b"\xef\xbb\xbf<br />\n<b>Notice</b>: Undefined index: runs in api.php\n{\"order\":5}",
                             content_type="text/html"))
    assert client.add(service_id=1, link="https://a.b/c", quantity=100) == "5"
