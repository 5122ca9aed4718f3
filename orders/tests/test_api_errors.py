"""Every error row of API.md for the implemented actions, through real HTTP: exact messages,
the order the checks run in, and that a refused request changes nothing at all.

Check order (API.md): key → action → idempotency replay → service → required fields → field
formats → bounds → link → active order with this link → balance. Each `test_order_*` sends
requests that break two rules at once and expects the earlier rule's message.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

from accounts.models import Account, ApiKey, LedgerEntry
from accounts.services import apikey_issue, apikey_revoke
from accounts.tests.factories import reseller_with_key
from catalog.service_types import ServiceType
from catalog.tests.factories import ServiceFactory
from orders.models import HoldReason, Order, OrderStatus
from orders.tests.api_helpers import placed, refused, snapshot, typed

ACTIVE_ORDER = "You have active order with this link. Please wait until order being completed."
BATCH_STATUS_ACTIONS = ("status", "multipleStatus", "multistatus", "multi_status", "status_multi")


# -- helpers -----------------------------------------------------------------------------------





def answer(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json", response.headers
    return response.json()


def post_json(api, payload: Any = None, *, raw: str | None = None) -> Any:
    """POST a JSON body (`raw` for text json.dumps would never write, such as `1e3`)."""
    body = raw if raw is not None else json.dumps(payload)
    response = requests.post(api.url, data=body.encode(), headers={"Content-Type": "application/json"}, timeout=30)
    return answer(response)




def refused_json(api, message: str, payload: dict | None = None, *, raw: str | None = None) -> None:
    before = snapshot()
    assert typed(post_json(api, payload, raw=raw)) == typed({"error": message}), payload or raw
    assert snapshot() == before, payload or raw




def client_for(api, account) -> Any:
    return type(api)(api.url.removesuffix("/api/v2"), account.key)


def balance_of(account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


# -- key and action ----------------------------------------------------------------------------

def test_invalid_api_key_when_missing_unknown_revoked_or_disabled(api, reseller):
    service = ServiceFactory()
    add = {"service": service.pk, "link": "https://instagram.com/alice", "quantity": "1000"}
    calls = [("balance", {}), ("services", {}), ("add", add), ("status", {"order": "1"}),
             ("status", {"orders": "1,2"}), ("multipleStatus", {"orders": "1"}), ("cancel", {"order": "1"}),
             ("cancel", {"orders": "1,2"})]
    for action, fields in calls:
        for key in (None, "", "   ", "not-a-key", api.key + "x", api.key[:-1], "x" * 129, api.key.upper()):
            refused(api, "Invalid API key", action, key=key, **fields)
    refused_json(api, "Invalid API key", {"key": 12345, "action": "balance"})
    refused_json(api, "Invalid API key", {"key": [api.key], "action": "balance"})

    api_key = ApiKey.objects.get(account=reseller)
    apikey_revoke(api_key=api_key)
    for action, fields in calls:
        refused(api, "Invalid API key", action, **fields)
    _, fresh = apikey_issue(account=reseller)
    api.key = fresh
    assert api("balance") == {"balance": "100.00", "currency": "TRY"}

    Account.objects.filter(pk=reseller.pk).update(is_active=False)
    for action, fields in calls:
        refused(api, "Invalid API key", action, **fields)
    Account.objects.filter(pk=reseller.pk).update(is_active=True)
    reseller.user.is_active = False
    reseller.user.save(update_fields=["is_active"])
    refused(api, "Invalid API key", "balance")
    refused(api, "Invalid API key", "add", **add)
    assert Order.objects.count() == 0


def test_invalid_action_when_absent_or_unknown(api):
    for action in (None, "", "   ", "unknown", "balances", "bal ance", "add_order", "balance\x00", "Status2"):
        refused(api, "Invalid action", action)
    refused_json(api, "Invalid action", {"key": api.key, "action": 1})
    refused_json(api, "Invalid action", {"key": api.key, "action": ["balance"]})
    refused_json(api, "Invalid action", {"key": api.key, "action": None})


# -- the check order ---------------------------------------------------------------------------

def test_order_key_action_service_required_formats(api, reseller):
    service = ServiceFactory(dripfeed=True)
    plain = ServiceFactory(dripfeed=False)
    inactive = ServiceFactory(is_active=False)
    # key before action
    refused(api, "Invalid API key", "nonsense", key="bad-key")
    refused(api, "Invalid API key", None, key=None)
    # action before anything `add` checks
    refused(api, "Invalid action", "addd", service="999999", link="javascript:x", quantity="abc")
    refused(api, "Invalid action", None, service=service.pk, link="https://instagram.com/a", quantity="1000")
    # service before required fields and formats
    refused(api, "Missing parameters", "add", link="javascript:x", quantity="abc")
    refused(api, "Missing parameters", "add", service="", link="https://instagram.com/a", quantity="1000")
    refused(api, "Service not found", "add", service="999999")
    refused(api, "Service not found", "add", service=inactive.pk, link="javascript:x", quantity="1e3")
    refused(api, "Invalid parameter: service", "add", service="1.0")
    refused(api, "Invalid parameter: service", "add", service="abc", link="javascript:x")
    # required fields before formats
    refused(api, "Missing parameters", "add", service=service.pk, quantity="abc")
    refused(api, "Missing parameters", "add", service=service.pk, link="", quantity="-5")
    refused(api, "Missing parameters", "add", service=service.pk, link="javascript:x")
    refused(api, "Missing parameters", "add", service=service.pk, link="https://instagram.com/a", quantity=" ")
    # drip-feed needs both runs and interval; on a service without it, that comes before formats
    refused(api, "Missing parameters", "add", service=service.pk, link="https://instagram.com/a", quantity="100",
            runs="2")
    refused(api, "Drip-feed is not available for this service", "add", service=plain.pk,
            link="https://instagram.com/a", quantity="abc", runs="x", interval="y")
    # formats before bounds and link
    refused(api, "Invalid parameter: quantity", "add", service=service.pk, link="javascript:x", quantity="10.5")
    refused(api, "Invalid parameter: runs", "add", service=service.pk, link="javascript:x",
            quantity="1", runs="abc", interval="10")
    refused(api, "Invalid parameter: interval", "add", service=service.pk, link="javascript:x",
            quantity="999999", runs="2", interval="1.5")
    assert Order.objects.count() == 0


def test_order_bounds_link_active_order_balance(api, reseller):
    service = ServiceFactory(rate=Decimal("90"), dripfeed=True)  # 1000 units cost 90 of alice's 100
    # bounds before link (runs/interval ranges are bounds too)
    refused(api, "Quantity less than minimal 100", "add", service=service.pk, link="javascript:alert(1)", quantity="99")
    refused(api, "Quantity more than maximum 5000", "add", service=service.pk, link="ftp://x.com/a", quantity="5001")
    refused(api, "Invalid parameter: runs", "add", service=service.pk, link="ftp://x.com/a",
            quantity="100", runs="1", interval="10")
    refused(api, "Invalid parameter: interval", "add", service=service.pk, link="ftp://x.com/a",
            quantity="100", runs="2", interval="0")
    # a control character in a link is a link error, so bounds still come first
    refused(api, "Quantity less than minimal 100", "add", service=service.pk, link="https://x.com/\x01", quantity="1")
    # link before balance (2000 units would cost 180)
    refused(api, "Invalid link", "add", service=service.pk, link="javascript:alert(1)", quantity="2000")
    refused(api, "Invalid link", "add", service=service.pk, link="https://x.com/a\x00", quantity="2000")
    # active order before balance
    first = placed(api, service=service.pk, link="https://www.Instagram.com/x/", quantity="1000")
    assert balance_of(reseller) == Decimal("10")
    refused(api, ACTIVE_ORDER, "add", service=service.pk, link="https://instagram.com/x", quantity="1000")
    # and only then the balance
    refused(api, "Insufficient balance", "add", service=service.pk, link="https://instagram.com/y", quantity="1000")
    assert Order.objects.get() == first


def test_order_idempotency_replay_comes_before_service_and_balance(api, reseller):
    service = ServiceFactory(rate=Decimal("60"))
    fields = {"service": service.pk, "link": "https://instagram.com/idem", "quantity": "1000"}
    first = placed(api, idempotency_key="retry-1", **fields)
    assert balance_of(reseller) == Decimal("40")
    before = snapshot()
    # a retry is answered with the first order even though its balance would no longer suffice,
    # the link has an active order, and the service is now inactive
    assert api("add", idempotency_key="retry-1", **fields) == {"order": first.pk}
    service.is_active = False
    service.save(update_fields=["is_active"])
    assert api("add", idempotency_key="retry-1", **fields) == {"order": first.pk}
    answer_ = requests.post(api.url, data={"key": api.key, "action": "add", **fields},
                               headers={"Idempotency-Key": "retry-1"}, timeout=30)
    assert answer(answer_) == {"order": first.pk}
    # a JSON integer quantity is the same request as the string "1000"
    assert post_json(api, {"key": api.key, "action": "add", "idempotency_key": "retry-1",
                           **fields, "quantity": 1000, "service": service.pk}) == {"order": first.pk}
    assert snapshot() == before
    # the same key for a different order, even one that is invalid in other ways
    refused(api, "Idempotency key already used with other parameters", "add", idempotency_key="retry-1",
            service=service.pk, link="https://instagram.com/other", quantity="1000")
    refused(api, "Idempotency key already used with other parameters", "add", idempotency_key="retry-1",
            service=service.pk, link="https://instagram.com/idem", quantity="999")
    refused(api, "Invalid parameter: idempotency_key", "add", idempotency_key="a\x00b", **fields)
    refused(api, "Invalid parameter: idempotency_key", "add", idempotency_key="k" * 201, **fields)
    # another account's key of the same name is its own
    bob = reseller_with_key("bob", "100")
    service.is_active = True
    service.save(update_fields=["is_active"])
    bobs = client_for(api, bob)
    assert bobs("add", idempotency_key="retry-1", **fields)["order"] != first.pk
    assert balance_of(bob) == Decimal("40")


# -- field formats -----------------------------------------------------------------------------

def test_numbers_are_digits_or_json_integers_only(api, reseller):
    service = ServiceFactory(rate=Decimal("0.01"), min_quantity=1, max_quantity=100_000)
    link = "https://instagram.com/numbers"
    for bad in ("1e3", "10.5", "1000.0", "-5", "abc", "+5", "1 000", "1,000", "0x10", "１０００", "9" * 19, "10\x00"):
        refused(api, "Invalid parameter: quantity", "add", service=service.pk, link=link, quantity=bad)
    base = {"key": api.key, "action": "add", "service": service.pk, "link": link}
    for bad in (True, False, 10.5, 1000.0, -5, [1000], {"n": 1000}, 10**19, "1e3"):
        refused_json(api, "Invalid parameter: quantity", {**base, "quantity": bad})
    raw = json.dumps(base)[:-1] + ', "quantity": 1e3}'
    refused_json(api, "Invalid parameter: quantity", raw=raw)
    refused_json(api, "Invalid parameter: service", {**base, "service": True, "quantity": 1000})
    refused_json(api, "Invalid parameter: service", {**base, "service": float(service.pk), "quantity": 1000})
    refused(api, "Invalid parameter: order", "status", order="1.0")
    refused(api, "Invalid parameter: order", "status", order="-1")
    refused(api, "Invalid parameter: order", "cancel", order="abc")
    refused_json(api, "Invalid parameter: order", {"key": api.key, "action": "status", "order": True})

    # JSON integers and digit strings are accepted alike
    first = post_json(api, {**base, "quantity": 1000})
    assert typed(first) == typed({"order": first["order"]})
    second = post_json(api, {**base, "link": "https://instagram.com/n2", "quantity": " 1000 "})
    third = post_json(api, {**base, "link": "https://instagram.com/n3", "service": str(service.pk), "quantity": "1000"})
    assert [o.quantity for o in Order.objects.order_by("pk")] == [1000, 1000, 1000]
    assert {first["order"], second["order"], third["order"]} == set(Order.objects.values_list("pk", flat=True))


def test_runs_and_interval_ranges_and_drip_feed_availability(api, reseller):
    drip = ServiceFactory(dripfeed=True, min_quantity=1, max_quantity=1_000_000, rate=Decimal("0.01"))
    plain = ServiceFactory(dripfeed=False)
    package = ServiceFactory(type=ServiceType.PACKAGE, dripfeed=True)
    base = {"service": drip.pk, "link": "https://instagram.com/drip", "quantity": "100"}
    for runs in ("0", "1", "1001", "abc", "2.5", "-2", "1e2"):
        refused(api, "Invalid parameter: runs", "add", runs=runs, interval="10", **base)
    for interval in ("0", "1441", "abc", "1.5", "-1"):
        refused(api, "Invalid parameter: interval", "add", runs="2", interval=interval, **base)
    refused(api, "Missing parameters", "add", runs="2", **base)
    refused(api, "Missing parameters", "add", interval="10", **base)
    refused(api, "Missing parameters", "add", runs="2", interval=" ", **base)
    as_json = {"key": api.key, "action": "add", **base}
    refused_json(api, "Invalid parameter: runs", {**as_json, "runs": True, "interval": 10})
    refused_json(api, "Invalid parameter: interval", {**as_json, "runs": 2, "interval": 1.5})
    for extra in ({"runs": "2", "interval": "10"}, {"runs": "2"}, {"interval": "10"}):
        refused(api, "Drip-feed is not available for this service", "add",
                **{**base, "service": plain.pk}, **extra)
        refused(api, "Drip-feed is not available for this service", "add",
                service=package.pk, link="https://instagram.com/pkg", **extra)
    # the range ends are accepted
    low = placed(api, runs="2", interval="1", **base)
    high = placed(api, **{**base, "link": "https://instagram.com/drip2"}, runs="1000", interval="1440")
    assert (low.runs, low.interval, low.quantity) == (2, 1, 200)
    assert (high.runs, high.interval, high.quantity) == (1000, 1440, 100_000)


def test_links_that_are_not_urls_or_handles_are_invalid(api, reseller):
    service = ServiceFactory(rate=Decimal("0.01"), min_quantity=1, max_quantity=1000)
    url = "https://instagram.com/"
    invalid = (
        "javascript:alert(1)", "JAVASCRIPT://x.com/%0aalert(1)", "ftp://instagram.com/x", "mailto:a@b.co",
        "data:text/html,x", "file:///etc/passwd", "//instagram.com/x", "instagram.com/x", "https://",
        "http://", "https:///x", "https://instagram.com:99999/x", "https://insta gram.com/x",
        "https://instagram.com/a b", "user name", "@", "https://instagram.com/\tx", "https://instagram.com/x\n",
        "https://instagram.com/x\r\ny", "https://instagram.com/\x00", "https://instagram.com/\x1f",
        "https://instagram.com/\x7f", "@user\x0b", "user#1", "<script>", url + "a" * (2001 - len(url)),
        "a" * 2001,
    )
    for link in invalid:
        refused(api, "Invalid link", "add", service=service.pk, link=link, quantity="10")
    refused_json(api, "Invalid parameter: link", {"key": api.key, "action": "add", "service": service.pk,
                                                   "link": ["https://instagram.com/x"], "quantity": 10})
    valid = (
        "@user.name_1", "user-name", "User.Name", "12345", "https://instagram.com/p/abc?igsh=1#top",
        "HTTP://Instagram.COM/Upper", "https://t.me/channel", url + "a" * (2000 - len(url)), "b" * 2000,
        "https://user:pw@example.com:8443/path",
    )
    for link in valid:
        order = placed(api, service=service.pk, link=link, quantity="10")
        assert order.link == link
    # spaces around a link are trimmed; a tab or line break anywhere is a control character
    padded = placed(api, service=service.pk, link="  https://instagram.com/padded  ", quantity="10")
    assert padded.link == "https://instagram.com/padded"
    refused(api, "Invalid link", "add", service=service.pk, link="https://instagram.com/tab\t", quantity="10")
    refused(api, "Invalid link", "add", service=service.pk, link="https://instagram.com/nl\n", quantity="10")


def test_control_characters_in_fields_are_invalid_parameters(api, reseller):
    comments = ServiceFactory(type=ServiceType.CUSTOM_COMMENTS, min_quantity=1, rate=Decimal("1"))
    hashtag = ServiceFactory(type=ServiceType.MENTIONS_HASHTAG, min_quantity=1, rate=Decimal("1"))
    followers = ServiceFactory(type=ServiceType.MENTIONS_USER_FOLLOWERS, min_quantity=1, rate=Decimal("1"))
    link = "https://instagram.com/ctl"
    for bad in ("nice\x00", "a\x01b", "tab\tinside", "bell\x07", "del\x7f", "vt\x0bx", "ff\x0cx"):
        refused(api, "Invalid parameter: comments", "add", service=comments.pk, link=link, comments=f"ok\n{bad}")
    refused_json(api, "Invalid parameter: comments", {"key": api.key, "action": "add", "service": comments.pk,
                                                       "link": link, "comments": ["ok", "bad\x00"]})
    refused_json(api, "Invalid parameter: comments", {"key": api.key, "action": "add", "service": comments.pk,
                                                       "link": link, "comments": ["ok", 5]})
    # single-value fields allow no line break either
    refused(api, "Invalid parameter: hashtag", "add", service=hashtag.pk, link=link, quantity="10", hashtag="a\nb")
    refused(api, "Invalid parameter: hashtag", "add", service=hashtag.pk, link=link, quantity="10", hashtag="\x00")
    refused(api, "Invalid parameter: username", "add", service=followers.pk, link=link, quantity="10",
            username="bob\r\n")
    refused(api, "Invalid parameter: service", "add", service=f"{comments.pk}\x00", link=link, comments="ok")
    refused(api, "Invalid parameter: orders", "status", orders="1,\x002")
    refused(api, "Invalid parameter: orders", "cancel", orders="1,2\x00")
    refused(api, "Invalid parameter: order", "status", order="1\x00")
    refused(api, "Invalid API key", "balance", key=api.key + "\x00")
    # an unknown field is ignored whatever it holds
    order = placed(api, service=comments.pk, link=link, comments="fine", note="\x00\x01", currency="USD")
    assert order.extra == {"comments": "fine"}


def test_quantity_bounds_name_the_services_own_numbers(api, reseller):
    service = ServiceFactory(min_quantity=250, max_quantity=750, rate=Decimal("1"))
    link = "https://instagram.com/bounds"
    for quantity, message in (("249", "Quantity less than minimal 250"), ("0", "Quantity less than minimal 250"),
                              ("1", "Quantity less than minimal 250"), ("751", "Quantity more than maximum 750"),
                              ("999999999999999999", "Quantity more than maximum 750")):
        refused(api, message, "add", service=service.pk, link=link, quantity=quantity)
    refused_json(api, "Quantity more than maximum 750",
                 {"key": api.key, "action": "add", "service": service.pk, "link": link, "quantity": 751})
    assert placed(api, service=service.pk, link=link, quantity="250").quantity == 250
    assert placed(api, service=service.pk, link=link + "2", quantity="750").quantity == 750


def test_one_active_order_per_normalised_link_and_service(api, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    other_service = ServiceFactory(rate=Decimal("1"))
    first = placed(api, service=service.pk, link="https://www.Instagram.com/x/", quantity="100")
    assert (first.link, first.link_normalized) == ("https://www.Instagram.com/x/", "https://instagram.com/x")
    for same in ("https://instagram.com/x", "https://INSTAGRAM.com/x/", "HTTPS://www.instagram.com/x#comments",
                 "https://www.instagram.com/x//", "  https://instagram.com/x  "):
        refused(api, ACTIVE_ORDER, "add", service=service.pk, link=same, quantity="100")
    refused_json(api, ACTIVE_ORDER, {"key": api.key, "action": "add", "service": service.pk,
                                     "link": "https://instagram.com/x", "quantity": 100})
    # paths, queries and schemes are not folded; other services and other accounts are not affected
    placed(api, service=service.pk, link="https://instagram.com/X", quantity="100")
    placed(api, service=service.pk, link="https://instagram.com/x?utm=1", quantity="100")
    placed(api, service=other_service.pk, link="https://instagram.com/x", quantity="100")
    bob = reseller_with_key("bob", "10")
    client_for(api, bob)("add", service=service.pk, link="https://instagram.com/x", quantity="100")

    for status in (OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS):
        Order.objects.filter(pk=first.pk).update(status=status)
        refused(api, ACTIVE_ORDER, "add", service=service.pk, link="https://instagram.com/x", quantity="100")
    for status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED):
        Order.objects.filter(pk=first.pk).update(status=status)
        again = placed(api, service=service.pk, link=f"https://instagram.com/x/#{status}", quantity="100")
        Order.objects.filter(pk=again.pk).update(status=OrderStatus.COMPLETED)

    # handles: the `@` and the case do not make another target
    placed(api, service=service.pk, link="@Alice.Shop", quantity="100")
    for same in ("alice.shop", "@ALICE.SHOP"):
        refused(api, ACTIVE_ORDER, "add", service=service.pk, link=same, quantity="100")


def test_insufficient_balance(api, reseller):
    service = ServiceFactory(rate=Decimal("50"), max_quantity=10_000)
    refused(api, "Insufficient balance", "add", service=service.pk, link="https://instagram.com/a", quantity="2001")
    exact = placed(api, service=service.pk, link="https://instagram.com/a", quantity="2000")
    assert exact.charge == Decimal("100")
    assert api("balance") == {"balance": "0.00", "currency": "TRY"}
    refused(api, "Insufficient balance", "add", service=service.pk, link="https://instagram.com/b", quantity="100")
    assert LedgerEntry.objects.filter(account=reseller).count() == 2  # the deposit and one charge


# -- orders: not found, batches, cancel --------------------------------------------------------

def test_another_accounts_order_is_never_revealed(api, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    bob = reseller_with_key("bob", "50")
    bobs_order = Order.objects.get(pk=client_for(api, bob)("add", service=service.pk,
                                                           link="https://instagram.com/bob", quantity="1000")["order"])
    mine = placed(api, service=service.pk, link="https://instagram.com/alice", quantity="1000")
    unknown = bobs_order.pk + mine.pk + 1000
    for pk in (bobs_order.pk, unknown):
        refused(api, "Order not found", "status", order=str(pk))
        refused(api, "Order not found", "cancel", order=str(pk))
        before = snapshot()
        assert api("cancel", orders=str(pk)) == [{"order": pk, "cancel": {"error": "Order not found"}}]
        for action in BATCH_STATUS_ACTIONS:
            assert api(action, orders=str(pk)) == {str(pk): {"error": "Order not found"}}
        assert snapshot() == before
    # in a batch with one's own order, another account's reads exactly like an unknown one
    batch = api("status", orders=f"{bobs_order.pk},{mine.pk},{unknown}")
    assert batch[str(bobs_order.pk)] == batch[str(unknown)] == {"error": "Order not found"}
    assert batch[str(mine.pk)]["status"] == "Pending"
    assert Order.objects.get(pk=bobs_order.pk).status == OrderStatus.PENDING
    assert balance_of(bob) == Decimal("49")


def test_status_and_cancel_need_their_id(api, reseller):
    for action in ("status", "cancel"):
        refused(api, "Missing parameters", action)
        refused(api, "Missing parameters", action, order="")
        refused(api, "Missing parameters", action, order="  ")
    for action in BATCH_STATUS_ACTIONS[1:]:
        refused(api, "Missing parameters", action)
        refused(api, "Missing parameters", action, orders="")
        refused(api, "Missing parameters", action, orders=" , ,")
        refused_json(api, "Missing parameters", {"key": api.key, "action": action, "orders": []})
        refused_json(api, "Missing parameters", {"key": api.key, "action": action, "orders": None})
        refused_json(api, "Invalid parameter: orders", {"key": api.key, "action": action, "orders": {"1": 1}})
    refused(api, "Missing parameters", "status", orders=" , ")
    refused(api, "Missing parameters", "cancel", orders=" , ")


def test_more_than_100_ids_are_refused_and_repeats_answered_once(api, reseller):
    service = ServiceFactory(rate=Decimal("1"), min_quantity=1)
    ids = [placed(api, service=service.pk, link=f"https://instagram.com/{n}", quantity="10").pk for n in range(3)]
    many = ",".join(str(n) for n in range(1, 102))
    for action in (*BATCH_STATUS_ACTIONS, "cancel"):
        refused(api, "Too many orders in one request", action, orders=many)
        refused_json(api, "Too many orders in one request",
                     {"key": api.key, "action": action, "orders": list(range(1, 102))})
    # exactly 100 distinct ids are fine, and repeats do not count
    hundred = ",".join(str(n) for n in range(1, 101)) + "," + ",".join(str(n) for n in range(1, 50))
    answer_ = api("multipleStatus", orders=hundred)
    assert len(answer_) == 100
    repeated = f"{ids[0]}, {ids[0]},{ids[1]},{ids[0]} ,00{ids[1]}"
    for action in BATCH_STATUS_ACTIONS:
        assert list(api(action, orders=repeated)) == [str(ids[0]), str(ids[1])]
    assert list(post_json(api, {"key": api.key, "action": "status", "orders": [ids[0], str(ids[0]), ids[2]]})) == [
        str(ids[0]), str(ids[2])
    ]
    canceled = api("cancel", orders=f"{ids[0]},{ids[0]}, {ids[0]}")
    assert canceled == [{"order": ids[0], "cancel": 1}]
    assert LedgerEntry.objects.filter(order_id=ids[0], kind="refund").count() == 1


def test_batch_cancel_answers_item_by_item(api, reseller):
    cancelable = ServiceFactory(rate=Decimal("10"), cancel=True)
    locked = ServiceFactory(rate=Decimal("10"), cancel=False)
    bob = reseller_with_key("bob", "10")
    bobs = client_for(api, bob)("add", service=cancelable.pk, link="https://instagram.com/bob",
                                quantity="1000")["order"]
    first = placed(api, service=cancelable.pk, link="https://instagram.com/1", quantity="1000")
    no_cancel = placed(api, service=locked.pk, link="https://instagram.com/2", quantity="1000")
    started = placed(api, service=cancelable.pk, link="https://instagram.com/3", quantity="1000")
    Order.objects.filter(pk=started.pk).update(status=OrderStatus.IN_PROGRESS, remains=400)
    last = placed(api, service=cancelable.pk, link="https://instagram.com/4", quantity="1000")
    assert balance_of(reseller) == Decimal("60")

    result = api("cancel", orders=f"{first.pk},{bobs},abc,{no_cancel.pk},999999,{started.pk},{last.pk}")
    not_found, cannot = {"error": "Order not found"}, {"error": "Order cannot be canceled"}
    assert typed(result) == typed([
        {"order": first.pk, "cancel": 1},
        {"order": bobs, "cancel": not_found},
        {"order": "abc", "cancel": not_found},
        {"order": no_cancel.pk, "cancel": cannot},
        {"order": 999999, "cancel": not_found},
        {"order": started.pk, "cancel": cannot},
        {"order": last.pk, "cancel": 1},
    ])
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {bobs: "Pending", first.pk: "Canceled", no_cancel.pk: "Pending",
                        started.pk: "In progress", last.pk: "Canceled"}
    assert balance_of(reseller) == Decimal("80")
    assert balance_of(bob) == Decimal("0")
    # a second batch: everything already canceled is refused, nothing is refunded twice
    before = snapshot()
    assert api("cancel", orders=f"{first.pk},{last.pk}") == [
        {"order": first.pk, "cancel": cannot}, {"order": last.pk, "cancel": cannot},
    ]
    assert snapshot() == before
    assert LedgerEntry.objects.filter(kind="refund").count() == 2


def test_order_cannot_be_canceled_changes_nothing(api, reseller):
    service = ServiceFactory(rate=Decimal("1"), cancel=True)
    no_cancel = ServiceFactory(rate=Decimal("1"), cancel=False)
    refused_order = placed(api, service=no_cancel.pk, link="https://instagram.com/n", quantity="1000")
    refused(api, "Order cannot be canceled", "cancel", order=str(refused_order.pk))
    cases = {
        "started": {"status": OrderStatus.PROCESSING, "remains": 999},
        "in progress": {"status": OrderStatus.IN_PROGRESS},
        "completed": {"status": OrderStatus.COMPLETED, "remains": 0},
        "partial": {"status": OrderStatus.PARTIAL, "remains": 10},
        "canceled": {"status": OrderStatus.CANCELED},
        "on hold": {"status": OrderStatus.PROCESSING, "hold_reason": HoldReason.NEEDS_CHECKING},
    }
    for name, changes in cases.items():
        order = placed(api, service=service.pk, link=f"https://instagram.com/{name.replace(' ', '-')}", quantity="1000")
        Order.objects.filter(pk=order.pk).update(**changes)
        refused(api, "Order cannot be canceled", "cancel", order=str(order.pk))
    # Processing but not started is still cancelable, once
    order = placed(api, service=service.pk, link="https://instagram.com/processing", quantity="1000")
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PROCESSING)
    assert typed(api("cancel", order=str(order.pk))) == typed({"cancel": order.pk, "status": "success"})
    refused(api, "Order cannot be canceled", "cancel", order=str(order.pk))
    assert LedgerEntry.objects.filter(order=order, kind="refund").get().amount == Decimal("1")
