"""Fuzzing the reseller API: thousands of generated requests for every action (and unknown ones),
sent as GET query strings, form POSTs, multipart and JSON bodies (objects and not), with wrong
types, huge and negative numbers, any Unicode (lone surrogates and control characters included),
repeated fields and very long values.

Every answer must be HTTP 200 `application/json` with a JSON body; an error answer is exactly
`{"error": "<message>"}`, a success never has an `error` key, and no request ends in the API's
`Internal error` (an unhandled exception). After the run the money invariants must hold: every
balance is the sum of its ledger, every order has exactly one charge entry equal to its charge
and at most one refund not above it, and every ledger entry's `balance_after` is the running sum.

Most requests go through Django's test client (volume); a smaller run goes over real HTTP to a
gunicorn started as in production, so the transport is covered too. Hypothesis is derandomised (a fixed seed
per test, no example database): CI sees the same requests every run.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
import requests
from django.db.models import Sum
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accounts.models import Account, ApiKey, LedgerEntry, LedgerKind
from accounts.services import apikey_issue, apikey_revoke
from accounts.tests.factories import reseller_with_key
from catalog.service_types import TYPE_SPECS, QuantityFrom, ServiceType
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus
from orders.services import order_transition
from orders.services.operator import order_mark_completed, order_mark_partial
from smmpanel.errors import DomainError
from smmpanel.tests.gunicorn_server import running_gunicorn

# Examples per run; each example sends two requests. Together 3 000 requests (docs/security.md).
CLIENT_EXAMPLES = 1300
HTTP_EXAMPLES = 200

PATHS = ("/api/v2", "/api/v2/", "/api/v1", "/api/v1/", "/api.php", "/api.php/")
ACTIONS = ("services", "add", "status", "multipleStatus", "multistatus", "multi_status", "status_multi",
           "balance", "cancel", "refill", "refill_status")
FIELDS = ("key", "action", "service", "link", "quantity", "runs", "interval", "order", "orders", "refill",
          "refills", "comments", "usernames", "keywords", "hashtags", "hashtag", "username", "media",
          "answer_number", "idempotency_key", "error")
TRANSPORTS = ("json", "form", "get", "multipart", "json-not-object", "split")  # JSON carries any value
LINKS = ("https://instagram.com/p/abc", "https://www.instagram.com/p/abc/?utm_source=x&igshid=y",
         "https://tiktok.com/@a/video/1?is_from_webapp=1", "https://youtube.com/watch?v=q&si=s", "@handle",
         "someone", "javascript:alert(1)", "ftp://x.y/z", "https://", "https://x.com:99999/", "http://[::1]/",
         "https://example.com/" + "a" * 1990, "https://example.com/" + "a" * 1985)

# --- the world the requests run against ---------------------------------------------------------


@dataclass
class World:
    keys: list[str]
    services: list[int]  # in SERVICE_TYPES' order
    orders: list[int] = field(default_factory=list)
    refills: list[int] = field(default_factory=list)
    links: int = 0
    requests: int = 0
    successes: int = 0

    @property
    def bearers(self) -> list[str]:
        return [f"Bearer {key}" for key in self.keys]


def make_world() -> World:
    """A few resellers (rich, poor, broke) with keys, one revoked key, a service of every type."""
    rich = reseller_with_key("fuzz_rich", Decimal("100000"))
    poor = reseller_with_key("fuzz_poor", Decimal("3.5"))
    broke = reseller_with_key("fuzz_broke", Decimal("0"))
    _, revoked = apikey_issue(account=rich)
    apikey_revoke(api_key=ApiKey.objects.get(account=rich, prefix=revoked[:8]))
    services = []
    for n, service_type in enumerate(ServiceType.values):
        service = ServiceFactory(type=service_type, rate=Decimal("0.012345") * (n + 1), min_quantity=1 + n % 3,
                                 max_quantity=5000, cancel=n % 4 != 3, dripfeed=service_type == ServiceType.DEFAULT)
        services.append(service.pk)
    services.append(ServiceFactory(is_active=False).pk)
    return World(keys=[rich.key, rich.key, rich.key, poor.key, broke.key, revoked], services=services)


# --- values -------------------------------------------------------------------------------------

LONG_COUNTS = (0, 1, 127, 128, 129, 199, 200, 201, 1999, 2000, 2001, 4001, 8200, 100_001, 300_000)
long_text = st.builds(lambda char, count: char * count,
                      st.sampled_from(["a", "é", "\x00", "\n", "1", ",", "😀", "\ud800", " ", "\r\n", "%"]),
                      st.sampled_from(LONG_COUNTS))
any_text = st.text(st.characters(exclude_categories=()), max_size=20)  # every category, surrogates too
scalars = st.one_of(any_text, st.integers(), st.integers(-(10**30), 10**30), st.floats(), st.booleans(), st.none(),
                    long_text)
# Anything JSON can carry, one level deep (deeper nesting is tested in test_api_limits.py).
junk = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(any_text, scalars, max_size=2))
word = st.text("abcxyz._-@#ÄŞ😀", min_size=1, max_size=8)


def number(low: int, high: int) -> st.SearchStrategy:
    return st.integers(low, high).flatmap(lambda n: st.sampled_from([n, str(n), f" {n} ", f"{n}.0"]))


@dataclass(frozen=True)
class Pick:
    """The n-th of the world's keys, services, orders or refills, looked up when the request is sent.

    Strategies must not read the world (Hypothesis replays draws and checks they repeat), and
    building them once keeps generation fast; so they draw this placeholder and `resolve` picks.
    """

    kind: str
    n: int
    as_text: bool = False


@dataclass(frozen=True)
class Joined:
    """Ids sent as one comma-separated text."""

    items: tuple


@dataclass(frozen=True)
class FreshLink:
    """A link no order has used yet (the active-order rule would refuse most repeats)."""

    path: str


@dataclass(frozen=True)
class Spiced:
    """A plausible value with one odd character put inside it (resolved first, so keys and links get it too)."""

    value: Any
    spice: str
    at: int


# The characters that break things: unstorable (lone surrogates), controls, line breaks, separators.
SPICES = ("\ud800", "\x00", "\udfff", "\x1b", "😀", "\r\n", "\x85", "\u2028", "%00", "&", ",", "\ufeff")


def resolve(value: Any, world: World) -> Any:
    if isinstance(value, Spiced):
        inner = resolve(value.value, world)
        if isinstance(inner, list):
            return [*inner, value.spice]
        text = inner if isinstance(inner, str) else str(inner)
        return text[:value.at] + value.spice + text[value.at:]
    if isinstance(value, Joined):
        return ",".join(str(resolve(item, world)) for item in value.items)
    if isinstance(value, FreshLink):
        world.links += 1
        return f"https://instagram.com/{value.path}{world.links}"
    if isinstance(value, Pick):
        known = getattr(world, value.kind)
        picked = known[value.n % len(known)] if known else value.n % 50 + 1
        return str(picked) if value.as_text else picked
    if isinstance(value, list):
        return [resolve(item, world) for item in value]
    return value


def pick(kind: str) -> st.SearchStrategy:
    return st.builds(Pick, st.just(kind), st.integers(0, 10_000), st.booleans())


def ids(kind: str) -> st.SearchStrategy:
    return st.one_of(pick(kind), pick(kind), st.integers(0, 10**19), st.sampled_from(["abc", "-1", "1e3", "007", "error"]))


def id_lists(kind: str) -> st.SearchStrategy:
    items = st.lists(ids(kind), min_size=1, max_size=120)
    return items | items.map(lambda xs: Joined(tuple(xs)))


@functools.cache
def usually(times_in_ten: int) -> st.SearchStrategy[bool]:
    # True first: Hypothesis favours the first choice (its "simplest"), so that is the common case.
    return st.sampled_from([True] * times_in_ten + [False] * (10 - times_in_ten))


lines = st.lists(word, min_size=1, max_size=6)
line_values = lines.map("\n".join) | lines.map("\r\n".join) | lines
# What a client might really send for each field (often valid).
PLAUSIBLE: dict[str, st.SearchStrategy] = {
    "key": st.builds(Pick, st.just("keys"), st.integers(0, 10_000)),
    "action": st.sampled_from(["add", *ACTIONS, "add", "cancel", "status"]).flatmap(
        lambda a: st.sampled_from([a, a, a.upper(), f" {a}\t", a.title()])),
    "service": pick("services"),
    "link": st.builds(FreshLink, st.sampled_from(["p/", "reel/", "", "@"])) | st.sampled_from(LINKS),
    "quantity": number(10, 2000) | number(0, 6000),
    "runs": number(0, 1001),
    "interval": number(0, 1441),
    "answer_number": number(0, 9),
    "order": ids("orders"),
    "refill": ids("refills"),
    "orders": id_lists("orders"),
    "refills": id_lists("refills"),
    "comments": line_values,
    "usernames": line_values,
    "keywords": line_values,
    "hashtags": line_values,
    "hashtag": word,
    "username": word,
    "media": st.sampled_from(LINKS),
    "idempotency_key": st.sampled_from(["k1", "k2", "k3"]),
}


def mostly_plausible(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible, sometimes with an odd character inside, sometimes anything at all."""
    spiced = st.builds(Spiced, strategy, st.sampled_from(SPICES), st.integers(0, 60))
    return st.sampled_from(["plain"] * 6 + ["spiced", "spiced", "junk", "junk"]).flatmap(
        lambda how: strategy if how == "plain" else spiced if how == "spiced" else junk)


VALUES = {name: mostly_plausible(strategy) for name, strategy in PLAUSIBLE.items()}
VALUES["error"] = junk
# The catalog make_world builds, in its order: a service of every type, then an inactive one.
SERVICE_TYPES = [*ServiceType.values, ServiceType.DEFAULT]
HEADER_VALUES = (st.builds(Pick, st.just("keys"), st.integers(0, 10_000))
                 | st.builds(Pick, st.just("bearers"), st.integers(0, 10_000)) | st.text("abcK1 -_", max_size=12))


@st.composite
def api_request(draw) -> dict[str, Any]:
    pairs: list[tuple[str, Any]] = []
    # Fields of any name first, so the well-formed ones below often win (the last value counts).
    for _ in range(draw(st.integers(0, 2))):
        pairs.append((draw(any_text), draw(junk)))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
        pairs.append((name, draw(VALUES[name])))
    if draw(usually(9)):
        pairs.append(("key", draw(VALUES["key"])))
    action = draw(VALUES["action"] | any_text) if draw(usually(9)) else None
    if action is not None:
        pairs.append(("action", action))
    if isinstance(action, str) and action.strip().lower() == "add" and draw(usually(8)):
        # An `add` with its service's fields: some of these succeed.
        n = draw(st.integers(0, len(SERVICE_TYPES) - 1))
        spec = TYPE_SPECS[SERVICE_TYPES[n]]
        names = ["link", *(["quantity"] if spec.quantity_from is QuantityFrom.FIELD else []), *spec.fields]
        if not draw(usually(8)):
            names += ["runs", "interval"]
        pairs.append(("service", Pick("services", n, draw(st.booleans()))))
        pairs += [(name, draw(VALUES[name])) for name in names if draw(usually(9))]
    elif isinstance(action, str) and draw(usually(8)):
        # The ids the action reads: one, or a batch.
        single, batch = ("refill", "refills") if action.strip().lower() == "refill_status" else ("order", "orders")
        name = draw(st.sampled_from([single, batch]))
        pairs.append((name, draw(VALUES[name])))
    return {
        "pairs": pairs,
        "transport": draw(st.sampled_from(TRANSPORTS)),
        "path": draw(st.sampled_from(PATHS)),
        "headers": draw(st.dictionaries(st.sampled_from(["X-API-Key", "Authorization", "Idempotency-Key"]),
                                        HEADER_VALUES, max_size=2)),
    }


API_REQUESTS = api_request()


# --- encoding a request as a client would -------------------------------------------------------

def _text(value: Any) -> list[str]:
    """A JSON-ish value as form field values: scalars as text, a list as a repeated field."""
    if isinstance(value, list):
        return [text for item in value for text in _text(item)] or [""]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None:
        return [""]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


def _bytes(text: str) -> bytes:
    # A lone surrogate becomes bytes that are not UTF-8, as a broken client would send.
    return text.encode("utf-8", "surrogatepass")


def form_body(pairs: list[tuple[str, Any]]) -> bytes:
    return "&".join(
        f"{quote_from_bytes(_bytes(name))}={quote_from_bytes(_bytes(text))}"
        for name, value in pairs for text in _text(value)
    ).encode()


def multipart_body(pairs: list[tuple[str, Any]], boundary: str = "fuzzboundary7MA4YWxk") -> bytes:
    parts = []
    for name, value in pairs:
        for text in _text(value):
            disposition = f'form-data; name="{name}"'.encode("utf-8", "surrogatepass")
            parts.append(b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n"
                         + _bytes(text) + b"\r\n")
    parts.append(b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                 b"Content-Type: text/plain\r\n\r\nfile content\r\n")
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def encoded(pairs: list[tuple[str, Any]], path: str, transport: str) -> tuple[str, str, bytes, str | None]:
    """(method, path with query string, body, content type) for the fields sent by `transport`."""
    if transport == "get":
        return "GET", f"{path}?{form_body(pairs).decode()}", b"", None
    if transport == "form":
        return "POST", path, form_body(pairs), "application/x-www-form-urlencoded"
    if transport == "multipart":
        return "POST", path, multipart_body(pairs), "multipart/form-data; boundary=fuzzboundary7MA4YWxk"
    if transport == "json":
        return "POST", path, json.dumps(dict(pairs)).encode(), "application/json"
    if transport == "json-not-object":
        return "POST", path, json.dumps([list(pair) for pair in pairs]).encode(), "application/json"
    # split: half the fields in the query string, the rest in a form body
    half = len(pairs) // 2
    return "POST", f"{path}?{form_body(pairs[:half]).decode()}", form_body(pairs[half:]), (
        "application/x-www-form-urlencoded")


def sends(data: Any, world: World) -> Iterator[tuple[dict[str, Any], str, str, bytes, dict[str, str]]]:
    """One drawn request, sent as drawn and then by one more transport (two requests per example:
    Hypothesis's generation costs as much as a request)."""
    request = data.draw(API_REQUESTS)
    pairs = [(name, resolve(value, world)) for name, value in request["pairs"]]
    headers = {name: str(resolve(value, world)) for name, value in request["headers"].items()}
    for transport in (request["transport"], data.draw(st.sampled_from(TRANSPORTS))):
        method, path, body, content_type = encoded(pairs, request["path"], transport)
        yield {**request, "pairs": pairs, "transport": transport}, method, path, body, (
            {**headers, "Content-Type": content_type} if content_type else headers)


# --- what every answer must be, and what must hold afterwards ---------------------------------

def check_answer(status: int, content_type: str, content: bytes, request: dict[str, Any], world: World) -> None:
    assert status == 200, (status, content[:200], request)
    assert content_type == "application/json", (content_type, request)
    body = json.loads(content)
    world.requests += 1
    if isinstance(body, dict) and "error" in body:
        assert list(body) == ["error"] and isinstance(body["error"], str), (body, request)
        assert body["error"] != "Internal error", request  # an unhandled exception
        return
    world.successes += 1
    if isinstance(body, dict) and type(body.get("order")) is int and len(body) == 1:
        world.orders.append(body["order"])
    if isinstance(body, dict) and type(body.get("refill")) is int and len(body) == 1:
        world.refills.append(body["refill"])


def operator_step(world: World, draw: Callable) -> None:
    """Now and then an operator ends an order, so refunds of partial orders and refills happen too."""
    # Drawn the same way whatever the world holds (see Known).
    n, partial, delivered = draw(st.integers(0, 10_000)), draw(st.booleans()), draw(st.integers(0, 10_000))
    if not world.orders:
        return
    pk = world.orders[n % len(world.orders)]
    order = Order.objects.get(pk=pk)
    try:
        if order.status == OrderStatus.PENDING:
            order_transition(order_id=pk, new_status=OrderStatus.PROCESSING, reason="fuzz", actor="fuzz")
        if order.quantity > 1 and partial:
            order_mark_partial(order_id=pk, delivered=delivered % order.quantity, actor="fuzz")
        else:
            order_mark_completed(order_id=pk, actor="fuzz")
    except DomainError:  # e.g. already ended: the lifecycle refuses, and nothing changes
        pass


def assert_money_invariants() -> None:
    for account in Account.objects.all():
        entries = list(account.ledger.order_by("pk"))
        assert account.balance == sum((e.amount for e in entries), Decimal(0)), account
        running = Decimal(0)
        for entry in entries:  # no balance change without its entry, in the order they happened
            running += entry.amount
            assert entry.balance_after == running, entry
    for order in Order.objects.all():
        charges = list(order.ledger_entries.filter(kind=LedgerKind.CHARGE))
        assert [(e.amount, e.account_id) for e in charges] == [(-order.charge, order.account_id)], order
        refunds = list(order.ledger_entries.filter(kind=LedgerKind.REFUND))
        assert len(refunds) <= 1 and all(0 < e.amount <= order.charge for e in refunds), order
        if order.status in (OrderStatus.CANCELED,):
            assert [e.amount for e in refunds] == [order.charge], order
    assert not LedgerEntry.objects.filter(kind__in=[LedgerKind.CHARGE, LedgerKind.REFUND], order=None).exists()
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == Account.objects.aggregate(
        total=Sum("balance"))["total"]


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same requests every run: deterministic in CI
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# --- the runs ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_fuzz_through_the_test_client(client):
    world = make_world()

    @fuzz_settings(CLIENT_EXAMPLES)
    @given(st.data())
    def two_requests(data):
        for request, method, path, body, headers in sends(data, world):
            content_type = headers.pop("Content-Type", None)
            if content_type:
                response = client.generic(method, path, data=body, content_type=content_type, headers=headers)
            else:
                response = client.generic(method, path, headers=headers)
            check_answer(response.status_code, response["Content-Type"], response.content, request, world)
        if not data.draw(usually(9)):
            operator_step(world, data.draw)

    two_requests()
    assert_money_invariants()
    # The fuzzing reached the money paths: orders placed, some refunded.
    assert world.requests >= 2 * CLIENT_EXAMPLES
    assert len(world.orders) > 30 and world.successes > 150, (len(world.orders), world.successes)
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists()


def test_fuzz_over_real_http_through_gunicorn(transactional_db, tmp_path):
    """The same requests over real HTTP to gunicorn as production runs it (its request-line and
    header limits included: smmpanel/gunicorn_worker.py answers them)."""
    world = make_world()
    unlimited = {f"API_RATE_LIMIT_{name}": "1000000/m" for name in ("ADD", "READ", "ANON")}
    with running_gunicorn(tmp_path, "--workers", "2", env={**unlimited, "CONN_MAX_AGE": "60"}) as (web, base):

        @fuzz_settings(HTTP_EXAMPLES)
        @given(st.data())
        def two_requests(data):
            for request, method, path, body, headers in sends(data, world):
                # (an HTTP client sends no header value with blanks around it)
                headers = {name: value.strip() for name, value in headers.items() if value.strip()}
                response = requests.request(method, base + path, data=body or None, headers=headers,
                                            allow_redirects=False, timeout=60)
                check_answer(response.status_code, response.headers.get("Content-Type"), response.content, request,
                             world)

        two_requests()
        assert web.alive()
    assert_money_invariants()
    assert world.requests >= 2 * HTTP_EXAMPLES and len(world.orders) > 10, (world.requests, len(world.orders))
