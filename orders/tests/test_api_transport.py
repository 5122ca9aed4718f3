"""The reseller API's transport through real HTTP (API.md, "Transport"): paths without redirects,
GET and POST, form, multipart and JSON bodies, where the key may come from, the action's
spelling, and that every answer — errors and limits included — is HTTP 200 JSON.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests

from accounts.models import Account, ApiKey, LedgerEntry
from accounts.services import apikey_revoke
from catalog.tests.factories import ServiceFactory
from orders.models import Order

PATHS = ("/api/v2", "/api/v2/", "/api/v1", "/api/v1/", "/api.php", "/api.php/")
BALANCE = {"balance": "100.00", "currency": "TRY"}


@pytest.fixture
def base(live_server) -> str:
    return live_server.url


@pytest.fixture
def url(base) -> str:
    return base + "/api/v2"


def typed(value: Any) -> Any:
    """A JSON value with every scalar paired with its type: `1`, `True`, `1.0` and `"1"` differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def answer(response: requests.Response) -> Any:
    """The body of an API answer, after checking what every answer shares."""
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json", response.headers
    assert "Location" not in response.headers
    body = response.json()
    if isinstance(body, dict) and "error" in body:
        assert list(body) == ["error"] and isinstance(body["error"], str), body
    return body


def send(method: str, url: str, **kwargs) -> Any:
    # requests' module functions open a fresh connection per call: a kept-alive one to the test
    # server stalls ~40 ms per answer (Nagle against delayed ACK).
    return answer(requests.request(method, url, allow_redirects=False, timeout=30, **kwargs))


def assert_success(body: Any) -> None:
    """A successful answer never carries an `error` key, not even a null one."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        assert "error" not in item, body


def state() -> tuple:
    return (Order.objects.count(), LedgerEntry.objects.count(), dict(Account.objects.values_list("pk", "balance")))


# -- paths and methods -------------------------------------------------------------------------

def test_every_path_answers_directly_by_post_and_get(base, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    for path in PATHS:
        assert send("POST", base + path, data={"key": reseller.key, "action": "balance"}) == BALANCE, path
        assert send("GET", base + path, params={"key": reseller.key, "action": "balance"}) == BALANCE, path
        assert send("POST", base + path, data={"key": "wrong", "action": "balance"}) == {"error": "Invalid API key"}
        assert send("GET", base + path) == {"error": "Invalid API key"}
        # a POST with everything in the query string and no body
        assert send("POST", f"{base}{path}?key={reseller.key}&action=balance") == BALANCE, path
    assert typed(send("GET", base + "/api.php", params={"key": reseller.key, "action": "services"})) == typed([
        {"service": service.pk, "name": service.name, "category": "Instagram", "rate": "1.0000", "min": 100,
         "max": 5000, "type": "Default", "refill": True, "cancel": True, "dripfeed": False, "description": "Followers"}
    ])
    # GET is a full citizen: it can place, read and cancel an order
    params = {"key": reseller.key, "action": "add", "service": service.pk, "link": "https://instagram.com/get",
              "quantity": "1000"}
    placed = send("GET", base + "/api.php", params=params)
    assert typed(placed) == typed({"order": Order.objects.get().pk})
    status = send("GET", base + "/api/v1/", params={"key": reseller.key, "action": "status", "order": placed["order"]})
    assert typed(status) == typed({"charge": "1.00", "start_count": 0, "status": "Pending", "remains": 1000,
                                   "currency": "TRY"})
    assert send("GET", base + "/api/v2", params={"key": reseller.key, "action": "cancel",
                                                 "order": placed["order"]}) == {"cancel": placed["order"],
                                                                                "status": "success"}
    # the key of a GET may sit in the URL unencoded (it only has URL-safe characters)
    assert send("GET", f"{base}/api/v2?action=balance&key={reseller.key}") == BALANCE


def test_other_methods_answer_200_json_errors_and_change_nothing(url, reseller):
    service = ServiceFactory()
    fields = {"key": reseller.key, "action": "add", "service": service.pk, "link": "https://instagram.com/x",
              "quantity": "1000"}
    before = state()
    for method in ("PUT", "DELETE", "PATCH"):
        body = send(method, url, data=fields)
        assert body == {"error": "Method not allowed"}, method
        assert send(method, url + "/") == {"error": "Method not allowed"}
    assert state() == before


def test_no_csrf_token_cookie_or_user_agent_is_needed(url, reseller):
    hostile = {"Cookie": "csrftoken=abc; sessionid=nonsense", "Origin": "https://evil.example",
               "Referer": "https://evil.example/form", "User-Agent": None}
    assert send("POST", url, data={"key": reseller.key, "action": "balance"}, headers=hostile) == BALANCE
    assert send("POST", url, data={"key": reseller.key, "action": "balance"},
                headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}) == BALANCE
    # nor does the API hand out cookies
    response = requests.post(url, data={"key": reseller.key, "action": "balance"}, timeout=30)
    assert "Set-Cookie" not in response.headers


# -- bodies ------------------------------------------------------------------------------------

def test_form_multipart_and_json_bodies_place_the_same_order(url, reseller):
    service = ServiceFactory(rate=Decimal("2.5"), min_quantity=10)
    common = {"key": reseller.key, "action": "add", "service": str(service.pk), "quantity": "1000"}
    form = send("POST", url, data={**common, "link": "https://instagram.com/form"})
    multipart = send("POST", url, files={name: (None, value) for name, value in
                                          {**common, "link": "https://instagram.com/multipart"}.items()})
    as_json = send("POST", url, json={**common, "service": service.pk, "quantity": 1000,
                                      "link": "https://instagram.com/json"})
    charset = send("POST", url, data=json.dumps({**common, "link": "https://instagram.com/charset"}).encode(),
                   headers={"Content-Type": "application/json; charset=utf-8"})
    orders = Order.objects.order_by("pk")
    assert [form, multipart, as_json, charset] == [{"order": order.pk} for order in orders]
    assert [(o.link, o.quantity, o.charge) for o in orders] == [
        (f"https://instagram.com/{name}", 1000, Decimal("2.5")) for name in ("form", "multipart", "json", "charset")
    ]
    assert send("POST", url, json={"key": reseller.key, "action": "balance"}) == {"balance": "90.00", "currency": "TRY"}
    # a multipart upload with a real file part next to the fields is fine too
    assert send("POST", url, data={"key": reseller.key, "action": "balance"},
                files={"attachment": ("note.txt", b"hello", "text/plain")}) == {"balance": "90.00", "currency": "TRY"}


def test_query_string_fields_of_a_post_merge_with_the_body(url, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    # key in the URL, the rest in the body
    body = send("POST", f"{url}?key={reseller.key}", data={"action": "add", "service": service.pk,
                                                           "link": "https://instagram.com/q", "quantity": "100"})
    assert body == {"order": Order.objects.get().pk}
    # action in the URL, key in a JSON body
    assert send("POST", f"{url}?action=balance", json={"key": reseller.key}) == {"balance": "99.90", "currency": "TRY"}
    # a field in both places: the body's wins
    assert send("POST", f"{url}?action=services&key=wrong", data={"key": reseller.key, "action": "balance"}) == {
        "balance": "99.90", "currency": "TRY"}
    # query fields of a multipart POST count as well
    assert send("POST", f"{url}?action=balance", files={"key": (None, reseller.key)})["balance"] == "99.90"


def test_malformed_or_non_object_bodies_are_invalid_request_bodies(url, reseller):
    before = state()
    json_header = {"Content-Type": "application/json"}
    for raw in (b'{"key": "x", "action": "balance"', b"{'key': 'x'}", b"not json", b'{"a": NaN}', b"\xff\xfe{}",
                b'[{"key": "x", "action": "balance"}]', b"[]", b'"balance"', b"42", b"null", b"true"):
        assert send("POST", url, data=raw, headers=json_header) == {"error": "Invalid request body"}, raw
    # a JSON array even with a valid key inside is refused, not half-read
    assert send("POST", url, json=[{"key": reseller.key, "action": "balance"}]) == {"error": "Invalid request body"}
    # a body in a type the API does not read is refused the same way
    assert send("POST", url, data=f"key={reseller.key}&action=balance",
                headers={"Content-Type": "text/plain"}) == {"error": "Invalid request body"}
    # an empty JSON body is just no fields
    assert send("POST", url, data=b"", headers=json_header) == {"error": "Invalid API key"}
    # a form body with bytes that are not UTF-8 does not break the request
    raw_form = f"key={reseller.key}&action=balance&junk=%FF%FE".encode()
    assert send("POST", url, data=raw_form,
                headers={"Content-Type": "application/x-www-form-urlencoded"}) == BALANCE
    assert state() == before


def test_request_size_limits_answer_request_too_large(url, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    add = {"key": reseller.key, "action": "add", "service": service.pk, "link": "https://instagram.com/big",
           "quantity": "1000"}
    before = state()
    too_large = {"error": "Request too large"}
    padding = "x" * (1024 * 1024 + 1)
    assert send("POST", url, data={**add, "padding": padding}) == too_large
    assert send("POST", url, json={**add, "padding": padding}) == too_large
    assert send("POST", url, files={**{k: (None, str(v)) for k, v in add.items()},
                                    "upload": ("big.bin", padding.encode())}) == too_large
    # more than 1000 form fields, in a form body, a multipart body or the query string
    many = [(f"f{n}", "1") for n in range(1001)]
    assert send("POST", url, data=[*add.items(), *many]) == too_large
    assert send("POST", url, files=[*((k, (None, str(v))) for k, v in add.items()),
                                    *((k, (None, v)) for k, v in many)]) == too_large
    assert send("GET", url, params=[*add.items(), *many]) == too_large
    assert state() == before
    # just under the limits, the same request goes through (unknown fields are ignored)
    assert send("POST", url, data={**add, "padding": "x" * (1024 * 1024 - 2000)}) == {"order": Order.objects.get().pk}
    assert send("POST", url, data=[("key", reseller.key), ("action", "balance"), *many[:990]]) == {
        "balance": "99.00", "currency": "TRY"}


# -- key and action ----------------------------------------------------------------------------

def test_key_from_field_x_api_key_or_bearer(url, reseller):
    for headers in ({"X-API-Key": reseller.key}, {"Authorization": f"Bearer {reseller.key}"},
                    {"Authorization": f"bearer {reseller.key}"}, {"Authorization": f"Bearer  {reseller.key}"}):
        assert send("POST", url, data={"action": "balance"}, headers=headers) == BALANCE, headers
        assert send("GET", url, params={"action": "balance"}, headers=headers) == BALANCE, headers
        assert send("POST", url, json={"action": "balance"}, headers=headers) == BALANCE, headers
        # an empty `key` field falls back to the header
        assert send("POST", url, data={"action": "balance", "key": ""}, headers=headers) == BALANCE, headers
    assert send("POST", url, data={"action": "balance", "key": f" {reseller.key} "}) == BALANCE
    invalid = {"error": "Invalid API key"}
    for headers in ({"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": reseller.key},
                    {"Authorization": f"Basic {reseller.key}"}, {"Authorization": "Bearer "}, {"X-Api-Key": ""}):
        assert send("POST", url, data={"action": "balance"}, headers=headers) == invalid, headers
    # the `key` field is the key when present: a wrong one is not rescued by a good header
    assert send("POST", url, data={"action": "balance", "key": "wrong"}, headers={"X-API-Key": reseller.key}) == invalid
    # a revoked key is refused from every place
    apikey_revoke(api_key=ApiKey.objects.get(account=reseller))
    for headers in ({"X-API-Key": reseller.key}, {"Authorization": f"Bearer {reseller.key}"}):
        assert send("POST", url, data={"action": "balance"}, headers=headers) == invalid
    assert send("POST", url, data={"action": "balance", "key": reseller.key}) == invalid


def test_action_is_matched_case_insensitively_after_trimming(url, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    for action in (" Balance ", "BALANCE", "balance", "\tbalance\n", "bAlAnCe"):
        assert send("POST", url, data={"key": reseller.key, "action": action}) == BALANCE, action
        assert send("GET", url, params={"key": reseller.key, "action": action}) == BALANCE, action
    order = send("POST", url, data={"key": reseller.key, "action": " ADD", "service": service.pk,
                                    "link": "https://instagram.com/case", "quantity": "100"})["order"]
    for action in ("MultipleStatus", " multiStatus ", "MULTI_STATUS", "Status_Multi", "STATUS"):
        body = send("POST", url, data={"key": reseller.key, "action": action, "orders": str(order)})
        assert list(body) == [str(order)], action
    assert send("POST", url, data={"key": reseller.key, "action": "Services"})[0]["service"] == service.pk
    assert send("POST", url, data={"key": reseller.key, "action": " Cancel ", "order": order}) == {
        "cancel": order, "status": "success"}


# -- answers -----------------------------------------------------------------------------------

def test_successful_answers_never_carry_an_error_key_and_extra_fields_are_ignored(url, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    extras = {"foo": "bar", "currency": "USD", "api_version": "2", "callback": "https://example.com/hook",
              "balance": "1000000", "charge": "0", "status": "Completed", "account": "bob", "error": "x"}
    key = {"key": reseller.key}
    answers = [
        send("POST", url, data={**key, "action": "services", **extras}),
        send("POST", url, data={**key, "action": "balance", **extras}),
    ]
    placed = send("POST", url, data={**key, "action": "add", "service": service.pk,
                                     "link": "https://instagram.com/extra", "quantity": "1000", **extras})
    order = Order.objects.get()
    assert (placed, order.charge, order.status, order.extra) == ({"order": order.pk}, Decimal("1"), "Pending", {})
    answers += [
        placed,
        send("POST", url, data={**key, "action": "status", "order": order.pk, **extras}),
        send("POST", url, data={**key, "action": "multipleStatus", "orders": order.pk, **extras}),
        send("POST", url, data={**key, "action": "cancel", "order": order.pk, **extras}),
        send("POST", url, json={**key, "action": "balance", "nested": {"a": [1, None]}, "list": [1, 2]}),
    ]
    for body in answers:
        assert_success(body)
    assert answers[1] == BALANCE and answers[-1] == BALANCE
    assert Account.objects.get(pk=reseller.pk).balance == Decimal("100")
