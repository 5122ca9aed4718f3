"""`add` for every service type of catalog/service_types.py through real HTTP (API.md, "add"):
required fields, where the quantity comes from, how the charge is computed and printed, the
type-specific fields kept on the order, and drip-feed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from accounts.models import Account, LedgerEntry
from catalog.models import Service
from catalog.service_types import TYPE_SPECS, QuantityFrom, ServiceType
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from orders.tests.api_helpers import placed, refused, snapshot, typed

T = ServiceType
# Per type: a valid request's type-specific fields (besides service and link), the order quantity
# and `extra` they give. Poll's `answer_number` is kept as a number.
VALID: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = {
    T.DEFAULT: ({"quantity": "1000"}, 1000, {}),
    T.PACKAGE: ({}, 1, {}),
    T.CUSTOM_COMMENTS: ({"comments": "Nice!\r\nGreat 👍"}, 2, {"comments": "Nice!\nGreat 👍"}),
    T.CUSTOM_COMMENTS_PACKAGE: ({"comments": "one\ntwo\nthree"}, 3, {"comments": "one\ntwo\nthree"}),
    T.MENTIONS: ({"quantity": "1000", "usernames": "alice\nbob"}, 1000, {"usernames": "alice\nbob"}),
    T.MENTIONS_WITH_HASHTAGS: (
        {"quantity": "1000", "usernames": "alice\nbob", "hashtags": "#travel\n#food"},
        1000,
        {"usernames": "alice\nbob", "hashtags": "#travel\n#food"},
    ),
    T.MENTIONS_CUSTOM_LIST: ({"usernames": "a\nb\nc\nd"}, 4, {"usernames": "a\nb\nc\nd"}),
    T.MENTIONS_HASHTAG: ({"quantity": "1000", "hashtag": "travel"}, 1000, {"hashtag": "travel"}),
    T.MENTIONS_USER_FOLLOWERS: ({"quantity": "1000", "username": "natgeo"}, 1000, {"username": "natgeo"}),
    T.MENTIONS_MEDIA_LIKERS: (
        {"quantity": "1000", "media": "https://instagram.com/p/abc"}, 1000, {"media": "https://instagram.com/p/abc"}
    ),
    T.COMMENT_LIKES: ({"quantity": "1000", "username": "commenter"}, 1000, {"username": "commenter"}),
    T.POLL: ({"quantity": "1000", "answer_number": "2"}, 1000, {"answer_number": 2}),
    T.SEO: ({"quantity": "1000", "keywords": "buy followers\ncheap likes"}, 1000,
            {"keywords": "buy followers\ncheap likes"}),
}










def post_json(api, payload: dict) -> Any:
    response = requests.post(api.url, json={"key": api.key, **payload}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    return response.json()


def balance(account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def test_every_type_places_an_order_with_its_quantity_charge_and_extra(api, reseller):
    assert set(VALID) == set(ServiceType.values) == set(TYPE_SPECS)  # a new type needs a row here
    # rate 2.5: per 1000 units, or the whole price of a package
    printed = {
        T.DEFAULT: "2.50", T.PACKAGE: "2.50", T.CUSTOM_COMMENTS: "0.005", T.CUSTOM_COMMENTS_PACKAGE: "2.50",
        T.MENTIONS: "2.50", T.MENTIONS_WITH_HASHTAGS: "2.50", T.MENTIONS_CUSTOM_LIST: "0.01",
        T.MENTIONS_HASHTAG: "2.50", T.MENTIONS_USER_FOLLOWERS: "2.50", T.MENTIONS_MEDIA_LIKERS: "2.50",
        T.COMMENT_LIKES: "2.50", T.POLL: "2.50", T.SEO: "2.50",
    }
    for n, (service_type, (fields, quantity, extra)) in enumerate(VALID.items()):
        service = ServiceFactory(type=service_type, rate=Decimal("2.5"), min_quantity=1, max_quantity=10_000)
        link = f"https://instagram.com/type{n}"
        before = balance(reseller)
        order = placed(api, service=service.pk, link=link, **fields)
        charge = Decimal(printed[service_type])
        assert (order.quantity, order.remains, order.charge, order.extra, order.link, order.status) == (
            quantity, quantity, charge, extra, link, "Pending"
        ), service_type
        assert (order.runs, order.interval) == (None, None)
        assert balance(reseller) == before - charge
        assert LedgerEntry.objects.get(order=order).amount == -charge
        assert typed(api("status", order=order.pk)) == typed({
            "charge": printed[service_type], "start_count": 0, "status": "Pending", "remains": quantity,
            "currency": "TRY",
        }), service_type
    # and the services list names each type as the catalog does, in the documented JSON types
    assert typed(api("services")) == typed([
        {"service": service.pk, "name": service.name, "category": "Instagram", "rate": "2.5000", "min": 1,
         "max": 10_000, "type": str(service.type), "refill": True, "cancel": True, "dripfeed": False,
         "description": "Followers"}
        for service in Service.objects.order_by("pk")
    ])
    assert [item["type"] for item in api("services")] == list(VALID)


def test_required_fields_are_missing_parameters_when_absent_or_empty(api, reseller):
    for n, (service_type, (fields, _, _)) in enumerate(VALID.items()):
        service = ServiceFactory(type=service_type, rate=Decimal("1"), min_quantity=1)
        full = {"service": service.pk, "link": f"https://instagram.com/required{n}", **fields}
        required = ["link", *fields]
        assert set(required) == {"link", *TYPE_SPECS[service_type].fields} | (
            {"quantity"} if TYPE_SPECS[service_type].quantity_from is QuantityFrom.FIELD else set()
        )
        for name in required:
            without = {key: value for key, value in full.items() if key != name}
            refused(api, "Missing parameters", "add", **without)
            for empty in ("", "   ", "\r\n \n"):
                refused(api, "Missing parameters", "add", **{**full, name: empty})
            before = snapshot()
            assert post_json(api, {"action": "add", **full, name: None}) == {"error": "Missing parameters"}
            assert snapshot() == before
        # the full request goes through
        placed(api, **full)


def test_line_types_take_their_quantity_from_the_lines(api, reseller):
    comments = ServiceFactory(type=T.CUSTOM_COMMENTS, rate=Decimal("10"), min_quantity=2, max_quantity=5)
    mentions = ServiceFactory(type=T.MENTIONS_CUSTOM_LIST, rate=Decimal("10"), min_quantity=1, max_quantity=100)
    link = "https://instagram.com/p/post"
    # split on \n and \r\n, each line trimmed, blank lines dropped; a sent quantity is ignored
    for n, quantity in enumerate((None, "5000", "abc", "-5", "1")):
        order = placed(api, service=comments.pk, link=f"{link}{n}", quantity=quantity,
                       comments="  first  \r\n\r\n second\n   \nthird\n")
        assert (order.quantity, order.remains, order.extra) == (3, 3, {"comments": "first\nsecond\nthird"})
        assert order.charge == Decimal("0.03")
    # a lone \r also breaks a line; a Unicode line separator inside a comment does not
    order = placed(api, service=comments.pk, link=f"{link}cr", comments="a\rb\u2028c\x85d")
    assert order.extra == {"comments": "a\nb\u2028c\x85d"}
    # JSON clients may send the lines as an array
    answer = post_json(api, {"action": "add", "service": comments.pk, "link": f"{link}json",
                             "comments": [" one ", "", "two", "  "], "quantity": 999})
    assert Order.objects.get(pk=answer["order"]).extra == {"comments": "one\ntwo"}
    # the bounds apply to the number of lines
    refused(api, "Quantity less than minimal 2", "add", service=comments.pk, link=f"{link}few", comments="only one\n\n")
    refused(api, "Quantity more than maximum 5", "add", service=comments.pk, link=f"{link}many",
            comments="\n".join(f"c{i}" for i in range(6)), quantity="5")
    order = placed(api, service=mentions.pk, link=f"{link}m", usernames="@a\r\n@b\r\n\r\n@c", quantity="1000")
    assert (order.quantity, order.extra, order.charge) == (3, {"usernames": "@a\n@b\n@c"}, Decimal("0.03"))


def test_package_types_are_charged_their_flat_rate(api, reseller):
    package = ServiceFactory(type=T.PACKAGE, rate=Decimal("12.345678"), min_quantity=100, max_quantity=5000)
    comments_package = ServiceFactory(type=T.CUSTOM_COMMENTS_PACKAGE, rate=Decimal("7"), min_quantity=1)
    # a package is one unit whatever quantity is sent, and its min/max do not apply
    for n, quantity in enumerate((None, "abc", "99999", "5")):
        order = placed(api, service=package.pk, link=f"https://instagram.com/pkg{n}", quantity=quantity)
        assert (order.quantity, order.remains, order.charge) == (1, 1, Decimal("12.34568"))
        assert api("status", order=order.pk)["charge"] == "12.34568"
    for n, comments in enumerate(("one", "one\ntwo\nthree\nfour")):
        order = placed(api, service=comments_package.pk, link=f"https://instagram.com/cp{n}", comments=comments)
        assert (order.quantity, order.charge) == (n * 3 + 1, Decimal("7"))
    assert api("balance") == {"balance": "36.61728", "currency": "TRY"}
    assert [item["rate"] for item in api("services")] == ["12.345678", "7.0000"]


def test_charge_is_rate_times_quantity_per_1000_rounded_half_up(api, reseller):
    service = ServiceFactory(rate=Decimal("0.278193"), min_quantity=1, max_quantity=10_000)
    cheap = ServiceFactory(rate=Decimal("0.025"), min_quantity=1, max_quantity=10_000)
    cases = [
        (service, "1000", "0.27819", Decimal("0.27819")),  # 0.278193
        (service, "5000", "1.39097", Decimal("1.39097")),  # 1.390965: half-up (half-even would give 1.39096)
        (service, "1500", "0.41729", Decimal("0.41729")),  # 0.4172895
        (service, "1", "0.00028", Decimal("0.00028")),  # 0.000278193
        (cheap, "1", "0.00003", Decimal("0.00003")),  # 0.000025: half-up (half-even would give 0.00002)
        (cheap, "2000", "0.05", Decimal("0.05")),
    ]
    for n, (svc, quantity, printed, charge) in enumerate(cases):
        order = placed(api, service=svc.pk, link=f"https://instagram.com/round{n}", quantity=quantity)
        assert order.charge == charge
        assert LedgerEntry.objects.get(order=order).amount == -charge
        assert typed(api("status", order=order.pk)) == typed({
            "charge": printed, "start_count": 0, "status": "Pending", "remains": int(quantity), "currency": "TRY",
        })
    assert api("balance") == {"balance": "97.86324", "currency": "TRY"}
    listed = api("services")
    assert typed(listed) == typed([
        {"service": svc.pk, "name": svc.name, "category": "Instagram", "rate": rate, "min": 1, "max": 10_000,
         "type": "Default", "refill": True, "cancel": True, "dripfeed": False, "description": "Followers"}
        for svc, rate in ((service, "0.278193"), (cheap, "0.0250"))
    ])


def test_poll_answer_number_is_a_number(api, reseller):
    poll = ServiceFactory(type=T.POLL, rate=Decimal("1"), min_quantity=1)
    for bad in ("abc", "-1", "1.5", "1e1"):
        refused(api, "Invalid parameter: answer_number", "add", service=poll.pk, link="https://instagram.com/poll",
                quantity="100", answer_number=bad)
    answer = post_json(api, {"action": "add", "service": poll.pk, "link": "https://instagram.com/poll",
                             "quantity": 100, "answer_number": 3})
    assert Order.objects.get(pk=answer["order"]).extra == {"answer_number": 3}


def test_drip_feed_multiplies_quantity_by_runs_and_charges_in_full(api, reseller):
    service = ServiceFactory(rate=Decimal("5"), min_quantity=100, max_quantity=5000, dripfeed=True)
    base = {"service": service.pk}
    order = placed(api, **base, link="https://instagram.com/d1", quantity="100", runs="10", interval="30")
    assert (order.quantity, order.remains, order.runs, order.interval, order.charge) == (
        1000, 1000, 10, 30, Decimal("5"))
    assert LedgerEntry.objects.get(order=order).amount == Decimal("-5")
    assert typed(api("status", order=order.pk)) == typed(
        {"charge": "5.00", "start_count": 0, "status": "Pending", "remains": 1000, "currency": "TRY"})
    assert api("balance") == {"balance": "95.00", "currency": "TRY"}
    # min/max apply to the total, not to one run
    small = placed(api, **base, link="https://instagram.com/d2", quantity="50", runs="2", interval="1")
    assert (small.quantity, small.charge) == (100, Decimal("0.5"))
    top = placed(api, **base, link="https://instagram.com/d3", quantity="2500", runs="2", interval="1440")
    assert (top.quantity, top.charge) == (5000, Decimal("25"))
    refused(api, "Quantity less than minimal 100", "add", **base, link="https://instagram.com/d4", quantity="49",
            runs="2", interval="5")
    refused(api, "Quantity more than maximum 5000", "add", **base, link="https://instagram.com/d4", quantity="1000",
            runs="6", interval="5")
    # JSON integers, and empty runs/interval meaning no drip-feed
    answer = post_json(api, {"action": "add", **base, "link": "https://instagram.com/d5", "quantity": 100,
                             "runs": 3, "interval": 5})
    assert Order.objects.filter(pk=answer["order"]).values_list("quantity", "runs", "interval").get() == (300, 3, 5)
    plain = placed(api, **base, link="https://instagram.com/d6", quantity="100", runs="", interval=" ")
    assert (plain.quantity, plain.runs, plain.interval) == (100, None, None)
    assert api("balance") == {"balance": "67.50", "currency": "TRY"}  # 100 − 5 − 0.5 − 25 − 1.5 − 0.5
