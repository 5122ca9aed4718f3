"""What the API documentation page (`GET /api/`) shows, built from the code's own tables.

The actions come from the ACTIONS table (aliases grouped by handler), the service types from
TYPE_SPECS, and every example answer from docs/api_examples.json, which
orders/tests/test_api_examples.py records against the real endpoint and replays. Only the prose
(what a field means, when an error happens) is written here.
"""
from __future__ import annotations

import json
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from catalog.service_types import EXTRA_FIELDS, LIST_FIELDS, TYPE_SPECS, QuantityFrom
from orders.api.actions import ACTIONS
from orders.order_request import INTEGER_EXTRAS, INTERVAL_RANGE, RUNS_RANGE
from smmpanel.fields import MAX_BATCH_IDS

EXAMPLES_PATH = Path(settings.BASE_DIR) / "docs" / "api_examples.json"
KEY_PLACEHOLDER = "YOUR_API_KEY"
ENDPOINT_PATH = "/api/v2"
ALIAS_PATHS = ("/api/v1", "/api.php")


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    need: str  # "required", "optional", or how it combines with another field
    about: str = ""


@dataclass(frozen=True)
class ActionDoc:
    name: str  # as clients spell it; the ACTIONS table holds names lower-cased
    summary: str
    fields: tuple[FieldDoc, ...] = ()


@dataclass(frozen=True)
class ErrorDoc:
    message: str  # as answered; NAME, MIN and MAX stand for the field's name and the service's bounds
    when: str
    action: str | None = None  # listed only once the API has this action


def _types_needing(name: str) -> str:
    return ", ".join(f"`{kind}`" for kind, spec in TYPE_SPECS.items() if name in spec.fields)


def _extra_field(name: str) -> FieldDoc:
    kind = "lines" if name in LIST_FIELDS else "integer" if name in INTEGER_EXTRAS else "string"
    return FieldDoc(name, kind, "per type", f"required by {_types_needing(name)}")


_IDS = f"comma-separated, up to {MAX_BATCH_IDS}"


def _one_or_many(single: str, about: str, many: str) -> tuple[FieldDoc, ...]:
    return (FieldDoc(single, "integer", "one of the two", about), FieldDoc(many, "id list", "one of the two", _IDS))


_ADD_FIELDS = (
    FieldDoc("service", "integer", "required", "an id from `services`"),
    FieldDoc("link", "string", "required", "an http(s) URL, or a handle such as `@name`; at most 2000 characters"),
    FieldDoc("quantity", "integer", "per type",
             "required unless the type takes its quantity from lines or is a package; "
             "must lie within the service's `min`–`max`"),
    FieldDoc("runs", "integer", "optional",
             f"drip-feed: number of runs ({RUNS_RANGE[0]}–{RUNS_RANGE[1]}), together with `interval`, "
             "on services with `dripfeed`; the order is `quantity × runs`"),
    FieldDoc("interval", "integer", "optional",
             f"drip-feed: minutes between runs ({INTERVAL_RANGE[0]}–{INTERVAL_RANGE[1]})"),
    *(_extra_field(name) for name in EXTRA_FIELDS),
    FieldDoc("idempotency_key", "string", "optional",
             "up to 200 characters (or the `Idempotency-Key` header): repeating the same `add` with the same key "
             "returns the first order and charges nothing more"),
)

ACTION_DOCS: dict[str, ActionDoc] = {
    doc.name.lower(): doc
    for doc in (
        ActionDoc("services", "The active services, in catalog order. `rate` is your price per 1000 "
                  "(for package types: the price of one order)."),
        ActionDoc("add", "Place an order. It is charged at once — `rate × quantity / 1000`, or the flat rate for "
                  "package types, rounded half-up to 5 decimals — and the answer is the new order's id. "
                  "Which fields a service needs depends on its type (see Service types).", _ADD_FIELDS),
        ActionDoc("status", "One order's state, or many at once: `orders` answers an object keyed by each id as "
                  "sent, with `{\"error\":\"Order not found\"}` for an unknown id or another account's order. "
                  "`start_count` is 0 until delivery starts.", _one_or_many("order", "an order id", "orders")),
        ActionDoc("multipleStatus", "The batch form of `status`, under the name the original API gave it.",
                  (FieldDoc("orders", "id list", "required", _IDS),)),
        ActionDoc("balance", "Your balance and the panel's currency."),
        ActionDoc("cancel", "Cancel an order that has not started: `Pending` or `Processing` with nothing "
                  "delivered, on a service with `cancel`. It becomes `Canceled` and the whole charge is refunded, "
                  "once. A drip-feed order can also be canceled between runs: the remaining runs are dropped and "
                  "it ends `Partial` with the undelivered part refunded. With `orders`, each id is canceled or "
                  "refused on its own.",
                  _one_or_many("order", "an order id", "orders")),
        ActionDoc("refill", "Ask for a refill of a finished order: the service has `refill`, the order is "
                  "`Completed` or `Partial`, within the service's refill period, with no other refill of it "
                  "running. The panel re-delivers what has dropped since; when nothing has, the refill ends "
                  "`Rejected`.", _one_or_many("order", "an order id", "orders")),
        ActionDoc("refill_status", "A refill's state: `Pending`, `In progress`, `Completed` or `Rejected`.",
                  _one_or_many("refill", "a refill id from `refill`", "refills")),
    )
}

# In the order the API checks them: the first failing check is the answer.
ERRORS: tuple[ErrorDoc, ...] = (
    ErrorDoc("Invalid API key", "the key is missing, unknown or revoked, or its account is disabled"),
    ErrorDoc("IP address not allowed for this key",
             "the key has an IP allow-list and this call came from another address (ask the panel to add it)"),
    ErrorDoc("Invalid action", "`action` is missing or unknown"),
    ErrorDoc("Service not found", "an unknown or inactive service"),
    ErrorDoc("Missing parameters",
             "a required field is absent or empty (also a list field without lines, `orders` without ids)"),
    ErrorDoc("Drip-feed is not available for this service", "`runs` or `interval` on a service without drip-feed"),
    ErrorDoc("Invalid parameter: NAME", "a field that is present but malformed (`1e3`, `10.5`, `-5`, control "
             "characters, a JSON object where text belongs, too long), or `runs`/`interval` out of range"),
    ErrorDoc("Quantity less than minimal MIN", "the order quantity is below the service's `min`"),
    ErrorDoc("Quantity more than maximum MAX", "the order quantity is above the service's `max`"),
    ErrorDoc("Invalid link", "neither an http(s) URL nor a handle, or over 2000 characters"),
    ErrorDoc("You have active order with this link. Please wait until order being completed.",
             "you already have a `Pending`, `Processing` or `In progress` order for this service and link"),
    ErrorDoc("Insufficient balance", "the charge exceeds your balance"),
    ErrorDoc("Idempotency key already used with other parameters", "an `idempotency_key` reused for a different order"),
    ErrorDoc("Order not found", "an unknown order, or another account's"),
    ErrorDoc("Order cannot be canceled",
             "the order is delivering (a drip-feed order: in the middle of a run) or finished, was canceled "
             "already, or its service does not allow cancels"),
    ErrorDoc("Refill is not available for this order", "the order is not eligible for a refill (see `refill`)",
             action="refill"),
    ErrorDoc("Refill not found", "an unknown refill, or another account's", action="refill_status"),
    ErrorDoc("Too many requests", "the key's rate limit (or, without a valid key, the address's) is spent for now; "
             "the `Retry-After` header gives the seconds to wait"),
    ErrorDoc("Too many orders in one request", f"more than {MAX_BATCH_IDS} ids"),
    ErrorDoc("Request too large", "a body over 1 MB or with over 1000 fields, a request line over 8190 bytes, or "
             "over 100 headers or one over 8190 bytes"),
    ErrorDoc("Invalid request body", "a body that cannot be parsed (broken JSON, a JSON value that is not an object)"),
    ErrorDoc("Method not allowed", "a method other than GET or POST"),
    ErrorDoc("Internal error", "an unexpected failure on the panel's side (it is logged), or a request that ran "
             "past the server's time limit; retry later (an `add` with the same `idempotency_key`)"),
)

_PLACEHOLDER = re.compile(r"\b(NAME|MIN|MAX)\b")


def error_pattern(message: str) -> re.Pattern[str]:
    """An error table message as a pattern matching the answers it stands for."""
    return re.compile(".+".join(re.escape(part) for part in _PLACEHOLDER.split(message)[::2]))


# --- The ACTIONS table, grouped ---------------------------------------------------------------

@dataclass
class ActionGroup:
    key: str  # the documented name, lower-cased (an ACTION_DOCS key when documented)
    doc: ActionDoc
    aliases: list[str]
    examples: list[dict[str, Any]] = field(default_factory=list)


def action_groups() -> list[ActionGroup]:
    """One entry per handler of ACTIONS, with its other names, in ACTION_DOCS order."""
    names_by_handler: dict[Any, list[str]] = {}
    for name, handler in ACTIONS.items():
        names_by_handler.setdefault(handler, []).append(name)
    groups = []
    for names in names_by_handler.values():
        key = next((name for name in names if name in ACTION_DOCS), names[0])
        doc = ACTION_DOCS.get(key) or ActionDoc(key, "")
        groups.append(ActionGroup(key=key, doc=doc, aliases=[name for name in names if name != key]))
    order = list(ACTION_DOCS)
    groups.sort(key=lambda group: order.index(group.key) if group.key in order else len(order))
    return groups


def action_section(action: Any) -> str | None:
    """The group key of an action name as a client may send it, or None if the API has no such action."""
    handler = ACTIONS.get(action.strip().lower()) if isinstance(action, str) else None
    return next((group.key for group in action_groups() if ACTIONS[group.key] is handler), None)


# --- Examples ---------------------------------------------------------------------------------

def examples_load(path: Path = EXAMPLES_PATH) -> list[dict[str, Any]]:
    """The recorded examples; none (the page still renders) if the file is missing."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["examples"]
    except FileNotFoundError:
        return []


_PLAIN = re.compile(r"[A-Za-z0-9_.~,:/@-]*")  # safe in a form body as it is


def curl_command(request: dict[str, Any], endpoint: str) -> str:
    """A copy-paste curl command line for a recorded request (one option per line)."""
    fields = request["fields"]
    args = [["curl", *(["-G"] if request.get("method") == "GET" else []), endpoint]]
    for name, value in request.get("headers", {}).items():
        args.append(["-H", f"{name}: {value}"])
    if request.get("body") == "json":
        args.append(["-H", "Content-Type: application/json"])
        args.append(["-d", json.dumps(fields, ensure_ascii=False)])
    else:
        for name, value in fields.items():
            value = str(value)
            args.append(["-d" if _PLAIN.fullmatch(value) else "--data-urlencode", f"{name}={value}"])
    return " \\\n  ".join(shlex.join(part) for part in args)


def answer_json(answer: Any) -> str:
    return json.dumps(answer, indent=2, ensure_ascii=False)


PYTHON_EXAMPLE = string.Template('''\
import time

import requests

API_URL = "$endpoint"
API_KEY = "$key"


def call(action, **fields):
    """One API call. Every answer is JSON with HTTP 200; a refusal is {"error": "..."}."""
    answer = requests.post(API_URL, data={"key": API_KEY, "action": action, **fields}, timeout=30).json()
    if isinstance(answer, dict) and "error" in answer:
        raise RuntimeError(answer["error"])
    return answer


print("balance:", call("balance")["balance"])
order = call("add", service=$service, link="https://instagram.com/your_profile", quantity=1000)["order"]
print("order:", order)
while True:
    status = call("status", order=order)
    print(status["status"], "- remains", status["remains"])
    if status["status"] in ("Completed", "Partial", "Canceled"):
        break
    time.sleep(60)
''')


# --- The page ---------------------------------------------------------------------------------

def _type_rows(examples_by_id: dict[str, dict]) -> list[dict[str, Any]]:
    rows = []
    for kind, spec in TYPE_SPECS.items():
        quantity = {
            QuantityFrom.FIELD: "`quantity` (× `runs` with drip-feed)",
            QuantityFrom.ONE: "1",
            QuantityFrom.LINES: f"number of lines of `{spec.lines_field}`",
        }[spec.quantity_from]
        required = ["link", *(["quantity"] if spec.quantity_from is QuantityFrom.FIELD else []), *spec.fields]
        example = f"add-{slug(kind)}"
        rows.append({
            "type": kind,
            "required": required,
            "quantity": quantity,
            "price": "flat: `rate` is the price of the order" if spec.flat_price else "`rate` per 1000",
            "example": example if example in examples_by_id else None,
        })
    return rows


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def page_context(*, endpoint: str, aliases: list[str]) -> dict[str, Any]:
    """Everything the template shows; `endpoint` is this panel's API URL as the reader reaches it."""
    examples = examples_load()
    for example in examples:
        example["curl"] = curl_command(example["request"], endpoint)
        example["answer_json"] = answer_json(example["answer"])
    by_section: dict[str, list[dict]] = {}
    for example in examples:
        by_section.setdefault(example["section"], []).append(example)
    groups = action_groups()
    for group in groups:
        group.examples = by_section.get(group.key, [])
    names = {group.key for group in groups}
    errors = []
    for doc in ERRORS:
        if doc.action is None or doc.action in names:
            pattern = error_pattern(doc.message)
            example = next((ex for ex in examples if _answers_error(ex["answer"], pattern)), None)
            errors.append({"doc": doc, "example": example["id"] if example else None})
    by_id = {example["id"]: example for example in examples}
    default_add = by_id.get("add-default", {}).get("request", {}).get("fields", {})
    return {
        "endpoint": endpoint,
        "aliases": aliases,
        "key_placeholder": KEY_PLACEHOLDER,
        "groups": groups,
        "transport_examples": by_section.get("transport", []),
        "error_examples": by_section.get("errors", []),
        "types": _type_rows(by_id),
        "errors": errors,
        "python_example": PYTHON_EXAMPLE.substitute(
            endpoint=endpoint, key=KEY_PLACEHOLDER, service=default_add.get("service", 1)
        ),
        "max_ids": MAX_BATCH_IDS,
    }


def _answers_error(answer: Any, pattern: re.Pattern[str]) -> bool:
    """Whether an answer, or an item of a batch answer, is this error."""
    if isinstance(answer, dict):
        if isinstance(answer.get("error"), str) and pattern.fullmatch(answer["error"]):
            return True
        return any(_answers_error(value, pattern) for value in answer.values() if isinstance(value, (dict, list)))
    if isinstance(answer, list):
        return any(_answers_error(item, pattern) for item in answer)
    return False
