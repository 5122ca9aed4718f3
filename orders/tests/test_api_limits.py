"""API.md's request limits through real HTTP (Django's live server): the request line, the body's
size, fields and shape, file parts, and every field's length, characters and JSON type. Each
refusal is HTTP 200 JSON with the contract's message, and changes nothing.

The same limits against a real gunicorn: smmpanel/tests/test_gunicorn_limits.py.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from catalog.service_types import ServiceType
from catalog.tests.factories import ServiceFactory
from orders.tests.api_helpers import snapshot, typed
from smmpanel.fields import MAX_LENGTH

TOO_LARGE = {"error": "Request too large"}
INVALID_KEY = {"error": "Invalid API key"}
BALANCE = {"balance": "100.00", "currency": "TRY"}


def answer(response: requests.Response) -> Any:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json", response.headers
    return response.json()


def send(method: str, url: str, **kwargs) -> Any:
    return answer(requests.request(method, url, allow_redirects=False, timeout=30, **kwargs))


def post_raw_json(url: str, body: str | bytes) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return send("POST", url, data=data, headers={"Content-Type": "application/json"})


def same_state(check):
    """Run `check` and assert the ledger, orders and balances are as before."""
    before = snapshot()
    check()
    assert snapshot() == before


def test_request_line_up_to_8190_bytes(api, reseller):
    base = f"{api.url}?key={reseller.key}&action=balance&padding="
    # `GET /api/v2?… HTTP/1.1`: method, space, target, space, protocol
    target = base.removeprefix(api.url.removesuffix("/api/v2"))
    room = 8190 - len(f"GET {target} HTTP/1.1")
    assert send("GET", base + "x" * room) == BALANCE
    assert send("GET", base + "x" * (room + 1)) == TOO_LARGE
    assert send("GET", base + "x" * 60_000) == TOO_LARGE
    # a POST's query string counts the same (its body does not)
    assert send("POST", base + "x" * (room + 1)) == TOO_LARGE
    assert send("POST", f"{api.url}?action=balance", data={"key": reseller.key, "padding": "x" * 100_000}) == BALANCE


def test_json_bodies_have_the_form_limits(api, reseller):
    url = api.url
    fields = {"key": reseller.key, "action": "balance"}
    many = {f"f{n}": n for n in range(1000 - len(fields))}
    assert send("POST", url, json={**fields, **many}) == BALANCE
    assert send("POST", url, json={**fields, **many, "one_more": 1}) == TOO_LARGE
    # nested deeper than the parser's stack: a body that cannot be read, not a crash
    deep = '{"key": "%s", "action": "balance", "x": %s}' % (reseller.key, "[" * 100_000 + "]" * 100_000)
    assert post_raw_json(url, deep) == {"error": "Invalid request body"}
    # numbers too long for Python's int conversion, or special floats
    assert post_raw_json(url, '{"action": "balance", "quantity": %s}' % ("9" * 5000)) == {
        "error": "Invalid request body"}
    assert post_raw_json(url, '{"key": "%s", "action": "balance", "x": 1e999}' % reseller.key) == BALANCE
    # invalid UTF-8 inside a JSON body
    assert post_raw_json(url, b'{"key": "\xff\xfe", "action": "balance"}') == {"error": "Invalid request body"}


def test_file_parts_are_ignored_and_bounded(api, reseller):
    url = api.url
    service = ServiceFactory(rate=Decimal("1"))
    # a field sent as a file part is no field: here the link is missing
    same_state(lambda: typed(send("POST", url, files={
        "key": (None, reseller.key), "action": (None, "add"), "service": (None, str(service.pk)),
        "quantity": (None, "1000"), "link": ("link.txt", b"https://instagram.com/file", "text/plain"),
    })) == typed({"error": "Missing parameters"}))
    assert send("POST", url, files={"key": ("key.txt", reseller.key.encode()), "action": (None, "balance")}) == (
        INVALID_KEY)
    # a text part beside a file part of the same name: the text counts
    assert send("POST", url, files=[("key", (None, reseller.key)), ("key", ("k.bin", b"\x00\xff")),
                                    ("action", (None, "balance"))]) == BALANCE
    # at most 10 files, and every file counts towards the 1 MB body
    assert send("POST", url, files=[("action", (None, "balance")), ("key", (None, reseller.key)),
                                    *((f"f{n}", (f"{n}.txt", b"x")) for n in range(11))]) == TOO_LARGE
    assert send("POST", url, files=[("action", (None, "balance")), ("key", (None, reseller.key)),
                                    *((f"f{n}", (f"{n}.txt", b"x" * 200_000)) for n in range(6))]) == TOO_LARGE
    assert send("POST", url, files=[("action", (None, "balance")), ("key", (None, reseller.key)),
                                    *((f"f{n}", (f"{n}.txt", b"x" * 100_000)) for n in range(9))]) == BALANCE


def test_repeated_fields_take_the_last_value(api, reseller):
    assert send("POST", api.url, data=[("key", "wrong"), ("key", reseller.key), ("action", "balance")]) == BALANCE
    assert send("GET", api.url, params=[("key", reseller.key), ("action", "status"), ("action", "balance")]) == BALANCE
    assert send("POST", api.url, files=[("key", (None, "wrong")), ("key", (None, reseller.key)),
                                        ("action", (None, "balance"))]) == BALANCE


def test_bytes_that_are_not_utf8_never_break_a_request(api, reseller):
    url = api.url
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert send("POST", url, data=f"key={reseller.key}&action=balance&x=\xff".encode("latin-1"), headers=form) == (
        BALANCE)
    assert send("GET", f"{url}?key={reseller.key}&action=balance&x=%FF%C0") == BALANCE
    assert send("POST", url, files={"key": (None, reseller.key), "action": (None, "balance"),
                                    "x": (None, b"\xff\xc0")}) == BALANCE
    # a key made of such bytes is only an unknown key
    assert send("POST", url, data=b"key=%FF%FE&action=balance", headers=form) == INVALID_KEY


@pytest.mark.parametrize("bad", ["with\x00nul", "with space", "é" * 10, "k" * 129, "\ud800"])
def test_a_malformed_key_is_an_unknown_key(api, reseller, bad):
    url = api.url
    if bad != "\ud800":  # a form cannot carry a lone surrogate, JSON can
        assert send("POST", url, data={"key": bad, "action": "balance"}) == INVALID_KEY
    assert send("POST", url, json={"key": bad, "action": "balance"}) == INVALID_KEY
    # present but malformed: no fallback to a good header
    assert send("POST", url, json={"key": bad, "action": "balance"}, headers={"X-API-Key": reseller.key}) == (
        INVALID_KEY)


@pytest.mark.parametrize("bad", [{"k": 1}, ["x"], 1.5, True, 123])
def test_a_key_of_another_json_type_is_an_unknown_key(api, reseller, bad):
    assert send("POST", api.url, json={"key": bad, "action": "balance"}) == INVALID_KEY
    # null is no key at all: the header counts then
    assert send("POST", api.url, json={"key": None, "action": "balance"}, headers={"X-API-Key": reseller.key}) == (
        BALANCE)


ADD_TYPES = {
    # field → a service type that reads it, and valid fields besides it
    "quantity": (ServiceType.DEFAULT, {"quantity": "1000"}),
    "service": (ServiceType.DEFAULT, {"quantity": "1000"}),
    "runs": (ServiceType.DEFAULT, {"quantity": "100", "runs": "2", "interval": "10"}),
    "interval": (ServiceType.DEFAULT, {"quantity": "100", "runs": "2", "interval": "10"}),
    "comments": (ServiceType.CUSTOM_COMMENTS, {"comments": "a\nb"}),
    "usernames": (ServiceType.MENTIONS, {"quantity": "1000", "usernames": "a\nb"}),
    "hashtags": (ServiceType.MENTIONS_WITH_HASHTAGS, {"quantity": "1000", "usernames": "a", "hashtags": "#x"}),
    "keywords": (ServiceType.SEO, {"quantity": "1000", "keywords": "a"}),
    "hashtag": (ServiceType.MENTIONS_HASHTAG, {"quantity": "1000", "hashtag": "x"}),
    "username": (ServiceType.MENTIONS_USER_FOLLOWERS, {"quantity": "1000", "username": "x"}),
    "media": (ServiceType.MENTIONS_MEDIA_LIKERS, {"quantity": "1000", "media": "https://instagram.com/p/x"}),
    "answer_number": (ServiceType.POLL, {"quantity": "1000", "answer_number": "1"}),
    "idempotency_key": (ServiceType.DEFAULT, {"quantity": "1000", "idempotency_key": "k1"}),
}
TEXT_FIELDS = {"comments", "usernames", "hashtags", "keywords", "hashtag", "username", "media", "idempotency_key"}


def _add_request(reseller, name: str) -> dict[str, Any]:
    service_type, fields = ADD_TYPES[name]
    service = ServiceFactory(type=service_type, rate=Decimal("1"), min_quantity=1, max_quantity=10_000,
                             dripfeed=True)
    return {"key": reseller.key, "action": "add", "service": str(service.pk), "link": "https://instagram.com/x",
            **fields}


@pytest.mark.parametrize("name", sorted(ADD_TYPES))
def test_every_add_field_refuses_wrong_json_types_controls_and_excess_length(api, reseller, name):
    request = _add_request(reseller, name)
    invalid = {"error": f"Invalid parameter: {name}"}

    def refused(body: dict, how: str = "json") -> None:
        before = snapshot()
        got = send("POST", api.url, json=body) if how == "json" else send("POST", api.url, data=body)
        assert got == invalid, (body.get(name), got)
        assert snapshot() == before

    # (a list field may be an array, of strings only)
    for wrong in ({"a": 1}, [{"a": 1}], [1, 2], 1.5, True):
        refused({**request, name: wrong})
    if name in TEXT_FIELDS:
        limit = MAX_LENGTH[name]
        refused({**request, name: "a" * (limit + 1)}, how="form")
        refused({**request, name: "a\x00b"}, how="form")
        refused({**request, name: "a\ud800b"})
        # within the limit the same request goes through
        order = send("POST", api.url, json={**request, name: "a" * limit})
        assert list(order) == ["order"], order
    else:
        for wrong in ("-1", "1e3", "10.5", "1" * 19, "1\x00"):
            refused({**request, name: wrong}, how="form")
        assert list(send("POST", api.url, json=request)) == ["order"]


def test_link_limits_answer_invalid_link(api, reseller):
    request = _add_request(reseller, "quantity")
    link = "https://instagram.com/p/"
    for bad in (link + "a" * (2001 - len(link)), link + "\x00", link + "\ud800", link + "\x85"):
        same_state(lambda: send("POST", api.url, json={**request, "link": bad}) == {"error": "Invalid link"})
        assert send("POST", api.url, json={**request, "link": bad}) == {"error": "Invalid link"}
    for wrong in ({"a": 1}, ["https://instagram.com/x"], 1.5, True):
        assert send("POST", api.url, json={**request, "link": wrong}) == {"error": "Invalid parameter: link"}
    assert list(send("POST", api.url, json={**request, "link": link + "a" * (2000 - len(link))})) == ["order"]


@pytest.mark.parametrize("action, name", [("status", "order"), ("cancel", "order"), ("refill", "order"),
                                          ("refill_status", "refill")])
def test_single_ids_refuse_wrong_types(api, reseller, action, name):
    for wrong in ({"a": 1}, [1], 1.5, True, -1, "1e3", "1\x00"):
        got = send("POST", api.url, json={"key": reseller.key, "action": action, name: wrong})
        assert got == {"error": f"Invalid parameter: {name}"}, (wrong, got)


@pytest.mark.parametrize("action, name", [("status", "orders"), ("multipleStatus", "orders"), ("cancel", "orders"),
                                          ("refill", "orders"), ("refill_status", "refills")])
def test_id_lists_refuse_wrong_types_controls_and_excess_length(api, reseller, action, name):
    request = {"key": reseller.key, "action": action}
    for wrong in ({"a": 1}, [[1]], [{"a": 1}], [1.5], 1.5, True, "1,\x002", ",".join(["x" * 50] * 90)):
        got = send("POST", api.url, json={**request, name: wrong})
        assert got == {"error": f"Invalid parameter: {name}"}, (wrong, got)
    assert send("POST", api.url, data={**request, name: ",".join(map(str, range(1, 200)))}) == {
        "error": "Too many orders in one request"}


def test_a_batch_never_answers_with_a_top_level_error_key(api, reseller):
    """`status orders=error` must not look like an error answer to a client testing for the key."""
    order = send("POST", api.url, json={**_add_request(reseller, "quantity")})["order"]
    body = send("POST", api.url, data={"key": reseller.key, "action": "status", "orders": f"{order},error"})
    assert "error" not in body and list(body) == [str(order)], body
