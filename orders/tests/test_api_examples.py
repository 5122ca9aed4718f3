"""The examples of the API reference page (/api/) are real answers, kept in docs/api_examples.json.

`test_examples_file_is_up_to_date` runs SCENARIO against the live server and compares what it
records with the committed file; with UPDATE_API_EXAMPLES=1 it writes the file instead.
`test_every_example_replays` sends each committed request again — with requests, and as the
page's own curl command line — and compares the answers. `test_python_example_runs` runs the
page's Python example as a reader would.

Deterministic by construction: an empty database with its id sequences reset, the demo catalog
and reseller (`manage.py seed_demo`, what `make run` loads: ids match a fresh demo panel), the
requests in a fixed order, and no worker (orders stay where the scenario puts them). The key is
written as YOUR_API_KEY and put back in when a request is sent.

A new action: add Examples to SCENARIO (with `needs=` while the action may be absent), then
`UPDATE_API_EXAMPLES=1 .venv/bin/python -m pytest orders/tests/test_api_examples.py`.
"""
from __future__ import annotations

import difflib
import html
import io
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from django.core.management import call_command

from accounts.models import Account
from accounts.services import apikey_issue
from catalog.models import Service
from catalog.service_types import LIST_FIELDS, TYPE_SPECS, QuantityFrom
from catalog.service_types import ServiceType as T
from orders.api.actions import ACTIONS
from orders.api.reference import (
    ENDPOINT_PATH,
    EXAMPLES_PATH,
    KEY_PLACEHOLDER,
    action_groups,
    action_section,
    curl_command,
    examples_load,
    slug,
)
from orders.models import Order, OrderStatus
from orders.services import order_transition

UPDATE = os.environ.get("UPDATE_API_EXAMPLES") == "1"
HOW_TO_UPDATE = "UPDATE_API_EXAMPLES=1 .venv/bin/python -m pytest orders/tests/test_api_examples.py"
MISSING = "999999"  # an order id that does not exist

Context = dict[str, int]  # ids kept by earlier examples, by name


@dataclass(frozen=True)
class Example:
    id: str  # the anchor on the page
    title: str
    fields: Callable[[Context], dict[str, Any]]  # besides `key`
    section: str | None = None  # default: the action's own section
    note: str = ""
    key: str | None = KEY_PLACEHOLDER  # the `key` field; None when the key travels in a header
    method: str = "POST"
    body: str = "form"  # or "json"
    headers: dict[str, str] = field(default_factory=dict)
    remember: tuple[str, str] | None = None  # (name, answer field): an id later examples use
    setup: Callable[[Context], None] | None = None  # before the request, and before its replay
    needs: str | None = None  # an action the API may not have yet: skipped until it does


# --- The fixed data the examples use ----------------------------------------------------------

def service_id(**filters) -> int:
    """The first service in catalog order that matches."""
    pk = Service.objects.filter(**filters).values_list("pk", flat=True).first()
    assert pk is not None, f"the demo catalog has no service with {filters}"
    return pk


PROFILE = "https://instagram.com/your_profile"
POST = "https://instagram.com/p/C8xYz12AbCd/"
LINKS = {T.POLL: "https://x.com/your_profile/status/1790000000000000000", T.SEO: "https://example.com/shop"}
COMMENTS = ["Great shot!", "Love the colours", "Where was this taken?", "This made my day", "Stunning view",
            "Need to go there", "So good", "Perfect light", "Wow", "Beautiful"]
USERNAMES = ["anna.k", "ben_travels", "carla.m", "dan.photo", "eva_w", "finn.outdoors", "gina.eats", "hugo.runs",
             "ines.art", "jon.b"]
SAMPLES: dict[str, Callable[[int], str]] = {
    "comments": lambda lines: "\n".join(COMMENTS[:lines]),
    "usernames": lambda lines: "\n".join(USERNAMES[:lines]),
    "hashtags": lambda lines: "\n".join(["#travel", "#sunset", "#photography"][:lines]),
    "keywords": lambda lines: "\n".join(["running shoes", "best trail running shoes"][:lines]),
    "hashtag": lambda _: "#sunset",
    "username": lambda _: "your_profile",
    "media": lambda _: POST,
    "answer_number": lambda _: "2",
}


def add_fields(kind: str, ctx: Context) -> dict[str, str]:
    """An `add` of the first demo service of a type, with what its type needs."""
    service = Service.objects.filter(type=kind).first()
    assert service is not None, f"the demo catalog (catalog/demo_catalog.py) has no {kind!r} service"
    spec = TYPE_SPECS[kind]
    fields = {"action": "add", "service": str(service.pk),
              "link": LINKS.get(kind, PROFILE if kind == T.DEFAULT else POST)}
    if spec.quantity_from is QuantityFrom.FIELD:
        fields["quantity"] = str(max(1000, service.min_quantity))
    for name in spec.fields:
        assert name in SAMPLES, f"no sample value for {name!r}: add one to SAMPLES"
        lines = max(3, service.min_quantity) if name == spec.lines_field else 3
        fields[name] = SAMPLES[name](lines if name in LIST_FIELDS else 1)
    return fields


def add_note(kind: str) -> str:
    spec = TYPE_SPECS[kind]
    notes = []
    if spec.quantity_from is QuantityFrom.LINES:
        notes.append(f"The order quantity is the number of lines of `{spec.lines_field}`.")
    if spec.quantity_from is QuantityFrom.ONE:
        notes.append("One package: no `quantity`.")
    if spec.flat_price:
        notes.append("Flat price: the charge is the service's `rate`.")
    return " ".join(notes)


def complete(name: str, start_count: int) -> Callable[[Context], None]:
    """A setup: the engine delivered a remembered order in full (it would take minutes)."""

    def setup(ctx: Context) -> None:
        order_transition(order_id=ctx[name], new_status=OrderStatus.PROCESSING, reason="docs example", actor="docs")
        Order.objects.filter(pk=ctx[name]).update(start_count=start_count)
        order_transition(order_id=ctx[name], new_status=OrderStatus.COMPLETED, reason="docs example", actor="docs")

    return setup


def _add_example(kind: str) -> Example:
    spec = TYPE_SPECS[kind]
    needs = ["link", *(["quantity"] if spec.quantity_from is QuantityFrom.FIELD else []), *spec.fields]
    return Example(
        id=f"add-{slug(kind)}",
        title=f"`{kind}`: " + ", ".join(needs),
        fields=lambda ctx, kind=kind: add_fields(kind, ctx),
        note=add_note(kind),
        remember=(slug(kind), "order"),
    )


def _default(**fields) -> Callable[[Context], dict[str, Any]]:
    """An `add` of the first Default service with these fields on top."""
    return lambda ctx: {"action": "add", "service": str(service_id(type=T.DEFAULT)), **fields}


# Run in this order; ids (orders 1, 2, …) follow from it.
SCENARIO: list[Example] = [
    Example("services", "The catalog", lambda ctx: {"action": "services"}),
    Example("balance", "Your balance", lambda ctx: {"action": "balance"}),
    *(_add_example(kind) for kind in TYPE_SPECS),
    Example(
        "add-dripfeed", "Drip-feed: `runs` × `quantity`, every `interval` minutes",
        lambda ctx: {"action": "add", "service": str(service_id(type=T.DEFAULT, dripfeed=True)), "link": POST,
                     "quantity": "100", "runs": "5", "interval": "30"},
        note="5 runs of 100, one every 30 minutes: an order of 500, charged at once.",
        remember=("dripfeed", "order"),
    ),
    Example(
        "add-idempotency-key", "With an `idempotency_key`",
        _default(link="https://instagram.com/another_profile", quantity="1000", idempotency_key="my-order-0001"),
        remember=("idempotent", "order"),
    ),
    Example(
        "add-idempotency-key-retry", "The same request again (a retry after a timeout)",
        _default(link="https://instagram.com/another_profile", quantity="1000", idempotency_key="my-order-0001"),
        note="The first order's id again; nothing more is charged.",
    ),
    Example("transport-get", "GET with the fields in the query string", lambda ctx: {"action": "balance"},
            section="transport", method="GET"),
    Example("transport-json", "A JSON body (numbers may be JSON integers)",
            lambda ctx: {"action": "status", "order": ctx["default"]}, section="transport", body="json"),
    Example("transport-header", "The key in a header", lambda ctx: {"action": "balance"}, section="transport",
            key=None, headers={"X-API-Key": KEY_PLACEHOLDER}),
    Example("status", "One order", lambda ctx: {"action": "status", "order": str(ctx["default"])}),
    Example(
        "status-batch", "Several orders at once", lambda ctx: {"action": "status",
                                                             "orders": f"{ctx['default']},{ctx['seo']},{MISSING}"},
        note="Keyed by each id as sent; an unknown id (or another account's order) answers an error in its place.",
        setup=complete("seo", start_count=1520),
    ),
    Example("multiplestatus", "The same, under the original name",
            lambda ctx: {"action": "multipleStatus", "orders": f"{ctx['default']},{ctx['dripfeed']}"}),
    Example("cancel", "One order", lambda ctx: {"action": "cancel", "order": str(ctx["default"])},
            note="Canceled, and the whole charge is back in your balance."),
    Example(
        "cancel-batch", "Several orders at once",
        lambda ctx: {"action": "cancel", "orders": f"{ctx['dripfeed']},{ctx['default']},{MISSING}"},
        note="Each id on its own: the second was canceled already, the third does not exist.",
    ),
    Example("balance-after-cancels", "After the cancels", lambda ctx: {"action": "balance"},
            note="Both canceled orders' charges are refunded."),
    Example(
        "refill", "One order", lambda ctx: {"action": "refill", "order": str(ctx["idempotent"])},
        note="The order has been delivered (`Completed`).", setup=complete("idempotent", start_count=4210),
        remember=("refill", "refill"), needs="refill",
    ),
    Example(
        "refill-batch", "Several orders at once",
        lambda ctx: {"action": "refill", "orders": f"{ctx['idempotent']},{ctx['seo']},{MISSING}"},
        note="The first has a refill running already; the second's service has no refills.", needs="refill",
    ),
    Example("refill-status", "One refill", lambda ctx: {"action": "refill_status", "refill": str(ctx["refill"])},
            needs="refill_status"),
    Example("refill-status-batch", "Several refills at once",
            lambda ctx: {"action": "refill_status", "refills": f"{ctx['refill']},{MISSING}"}, needs="refill_status"),
    # Refusals: each changes nothing.
    Example("error-key", "A wrong key", lambda ctx: {"action": "balance"}, section="errors", key="not-a-valid-key"),
    Example("error-action", "An unknown action", lambda ctx: {"action": "buy"}, section="errors"),
    Example("error-missing", "A required field left out", _default(quantity="1000"), section="errors",
            note="No `link`."),
    Example("error-service", "A service that does not exist",
            lambda ctx: {"action": "add", "service": "9999", "link": PROFILE, "quantity": "1000"}, section="errors"),
    Example("error-parameter", "A malformed number", _default(link=PROFILE, quantity="1e3"), section="errors"),
    Example("error-quantity-min", "Below the service's minimum", _default(link=PROFILE, quantity="10"),
            section="errors"),
    Example("error-quantity-max", "Above the service's maximum", _default(link=PROFILE, quantity="10000"),
            section="errors"),
    Example("error-dripfeed", "Drip-feed on a service without it",
            _default(link=PROFILE, quantity="1000", runs="5", interval="30"), section="errors"),
    Example("error-link", "Not a link", _default(link="javascript:alert(1)", quantity="1000"), section="errors"),
    Example("error-active-order", "The same order again while the first is still running",
            lambda ctx: add_fields(T.MENTIONS, ctx), section="errors"),
    Example("error-balance", "More than the balance",
            lambda ctx: {"action": "add", "service": str(service_id(name="YouTube Views [Retention]")),
                         "link": "https://youtube.com/watch?v=dQw4w9WgXcQ", "quantity": "1000000"},
            section="errors"),
    Example("error-idempotency-key", "An `idempotency_key` reused for another order",
            _default(link="https://instagram.com/another_profile", quantity="2000", idempotency_key="my-order-0001"),
            section="errors"),
    Example("error-order", "An order that does not exist", lambda ctx: {"action": "status", "order": MISSING},
            section="errors"),
]


# --- Recording and replaying ------------------------------------------------------------------

def active_scenario() -> list[Example]:
    return [example for example in SCENARIO if example.needs is None or example.needs in ACTIONS]


def request_of(example: Example, ctx: Context) -> dict[str, Any]:
    fields = {"key": example.key} if example.key else {}
    fields.update(example.fields(ctx))
    if example.body != "json":
        fields = {name: str(value) for name, value in fields.items()}  # a form or query carries strings
    request: dict[str, Any] = {"fields": fields}
    if example.method != "POST":
        request["method"] = example.method
    if example.body != "form":
        request["body"] = example.body
    if example.headers:
        request["headers"] = dict(example.headers)
    return request


def with_key(value: Any, key: str) -> Any:
    return json.loads(json.dumps(value).replace(KEY_PLACEHOLDER, key))


def normalise(answer: Any, key: str) -> Any:
    """An answer as the file keeps it: the key, should it ever be echoed, as the placeholder."""
    return json.loads(json.dumps(answer).replace(key, KEY_PLACEHOLDER))


def send_requests(url: str, request: dict[str, Any]) -> Any:
    fields, headers = request["fields"], request.get("headers", {})
    if request.get("method") == "GET":
        response = requests.get(url, params=fields, headers=headers, timeout=30)
    elif request.get("body") == "json":
        response = requests.post(url, json=fields, headers=headers, timeout=30)
    else:
        response = requests.post(url, data=fields, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json", response.headers
    return response.json()


def send_curl(url: str, request: dict[str, Any]) -> Any:
    """Run the command line the page shows, as a reader would paste it into bash."""
    done = subprocess.run(["bash", "-c", curl_command(request, url) + " --silent --show-error"],
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def keep(example: Example | None, answer: Any, ctx: Context) -> None:
    if example is not None and example.remember:
        name, answer_field = example.remember
        assert isinstance(answer, dict) and answer_field in answer, (example.id, answer)
        ctx[name] = answer[answer_field]


def record(url: str, key: str) -> list[dict[str, Any]]:
    ctx: Context = {}
    records = []
    for example in active_scenario():
        if example.setup:
            example.setup(ctx)
        request = request_of(example, ctx)
        answer = normalise(send_requests(url, with_key(request, key)), key)
        keep(example, answer, ctx)
        section = example.section or action_section(request["fields"].get("action"))
        assert section, f"{example.id}: the API has no action {request['fields'].get('action')!r}"
        records.append({
            "id": example.id, "section": section, "title": example.title,
            **({"note": example.note} if example.note else {}),
            "request": request, "answer": answer,
        })
    return records


def dump(records: list[dict[str, Any]]) -> str:
    document = {
        "about": "Real requests and answers for the API reference page (/api/). Generated by "
                 f"orders/tests/test_api_examples.py, do not edit: {HOW_TO_UPDATE}",
        "examples": records,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Panel:
    url: str
    key: str


@pytest.fixture
def panel(django_db_reset_sequences, live_server) -> Panel:
    """The demo panel on an empty database whose ids start at 1, and a key of its reseller `demo`."""
    call_command("seed_demo", stdout=io.StringIO())
    _, key = apikey_issue(account=Account.objects.get(user__username="demo"), label="docs examples")
    return Panel(url=live_server.url + ENDPOINT_PATH, key=key)


def test_examples_file_is_up_to_date(panel):
    text = dump(record(panel.url, panel.key))
    assert panel.key not in text
    if UPDATE:
        EXAMPLES_PATH.write_text(text, encoding="utf-8")
        return
    committed = EXAMPLES_PATH.read_text(encoding="utf-8") if EXAMPLES_PATH.exists() else ""
    if text != committed:
        diff = difflib.unified_diff(committed.splitlines(), text.splitlines(), "committed", "now", lineterm="", n=2)
        pytest.fail(f"{EXAMPLES_PATH.name} is out of date; to update it run\n    {HOW_TO_UPDATE}\n"
                    + "\n".join(list(diff)[:80]), pytrace=False)


@pytest.mark.parametrize("send", [
    send_requests,
    send_curl,  # curl is on every machine we run on (Debian); a missing one should fail, not skip
], ids=["requests", "curl"])
def test_every_example_replays(panel, send):
    by_id = {example.id: example for example in SCENARIO}
    ctx: Context = {}
    mismatches = []
    for recorded in examples_load():
        example = by_id.get(recorded["id"])
        if example and example.setup:
            example.setup(ctx)
        answer = normalise(send(panel.url, with_key(recorded["request"], panel.key)), panel.key)
        if answer != recorded["answer"]:
            mismatches.append(f"{recorded['id']}: recorded {json.dumps(recorded['answer'])}, now {json.dumps(answer)}")
        keep(example, answer, ctx)
    assert not mismatches, "\n".join(mismatches)


def test_every_action_has_an_example():
    sections = {example["section"] for example in examples_load()}
    missing = [group.doc.name for group in action_groups() if group.key not in sections]
    assert not missing, (f"no example in {EXAMPLES_PATH.name} for {missing}: add Examples to SCENARIO in "
                         f"orders/tests/test_api_examples.py, then run {HOW_TO_UPDATE}")


def test_python_example_runs(panel, live_server, monkeypatch, capsys):
    page = requests.get(live_server.url + "/api/", timeout=30).text
    code = html.unescape(re.search(r'<pre class="python" id="python-example"><code>(.*?)</code>', page, re.S)[1])

    def sleep(seconds):  # while the reader waits, the engine delivers the order
        assert seconds == 60
        complete("order", start_count=300)({"order": Order.objects.get().pk})

    monkeypatch.setattr(time, "sleep", sleep)
    exec(compile(code.replace(KEY_PLACEHOLDER, panel.key), "python-example", "exec"), {"__name__": "__main__"})

    assert capsys.readouterr().out.splitlines() == [
        "balance: 1000.00", "order: 1", "Pending - remains 1000", "Completed - remains 0",
    ]
