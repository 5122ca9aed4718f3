"""The reseller API's actions: one table from action name to a small handler.

Each handler parses its fields, calls one service or selector, and shapes the answer.
Adding an action touches only ACTIONS.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.models import Account
from accounts.selectors import account_balance
from orders import selectors
from orders.api.formatting import (
    balance_payload,
    error_payload,
    order_status_payload,
    refill_status_payload,
)
from orders.api.services_answer import services_answer
from orders.services import order_cancel, order_place
from orders.services.refills import refill_request
from smmpanel import fields as f
from smmpanel.errors import (
    DomainError,
    MissingParameters,
    OrderNotFound,
    RefillNotFound,
)


@dataclass(frozen=True)
class Call:
    account: Account
    fields: dict[str, Any]
    idempotency_header: str | None = None
    catalog_version: str | None = None  # read with the key: see catalog/snapshot.py

    @property
    def actor(self) -> str:
        return f"api:{self.account.user.get_username()}"


def services(call: Call) -> bytes:
    return services_answer(account_id=call.account.pk, catalog_version=call.catalog_version)


def add(call: Call) -> dict[str, Any]:
    idempotency_key = call.fields.get("idempotency_key")
    if f.is_blank(idempotency_key):
        idempotency_key = call.idempotency_header
    order = order_place(account=call.account, fields=call.fields, idempotency_key=idempotency_key, actor=call.actor,
                        catalog_version=call.catalog_version)
    return {"order": order.pk}


def _single_id(call: Call, name: str) -> int:
    value = call.fields.get(name)
    if f.is_blank(value):
        raise MissingParameters()
    return f.integer(name, value)


def status(call: Call) -> dict[str, Any]:
    if not f.is_blank(call.fields.get("orders")):
        return multiple_status(call)
    order = selectors.order_get(account=call.account, order_id=_single_id(call, "order"))
    return order_status_payload(order)


def multiple_status(call: Call) -> dict[str, Any]:
    requested = f.id_list("orders", call.fields.get("orders"))
    found = selectors.orders_by_id(account=call.account, order_ids=[pk for _, pk in requested if pk is not None])
    not_found = error_payload(OrderNotFound.message)
    return {
        text: order_status_payload(found[pk]) if pk in found else not_found
        for text, pk in requested
        # A malformed id sent as `error` is left out: as a key it would make a successful answer
        # look like an error one (API.md: a success never has an `error` key).
        if text != "error"
    }


def balance(call: Call) -> dict[str, Any]:
    return balance_payload(account_balance(call.account))


def cancel(call: Call) -> dict[str, Any] | list[dict[str, Any]]:
    if f.is_blank(call.fields.get("orders")):
        order = order_cancel(account=call.account, order_id=_single_id(call, "order"), actor=call.actor)
        return {"cancel": order.pk, "status": "success"}
    answers = []
    for text, pk in f.id_list("orders", call.fields.get("orders")):
        try:
            if pk is None:
                raise OrderNotFound()
            order_cancel(account=call.account, order_id=pk, actor=call.actor)
            answers.append({"order": pk, "cancel": 1})
        except DomainError as exc:
            answers.append({"order": pk if pk is not None else text, "cancel": error_payload(exc.message)})
    return answers


def refill(call: Call) -> dict[str, Any] | list[dict[str, Any]]:
    if f.is_blank(call.fields.get("orders")):
        return {"refill": refill_request(account=call.account, order_id=_single_id(call, "order")).pk}
    answers = []
    for text, pk in f.id_list("orders", call.fields.get("orders")):
        try:
            if pk is None:
                raise OrderNotFound()
            answers.append({"order": pk, "refill": refill_request(account=call.account, order_id=pk).pk})
        except DomainError as exc:
            answers.append({"order": pk if pk is not None else text, "refill": error_payload(exc.message)})
    return answers


def refill_status(call: Call) -> dict[str, Any] | list[dict[str, Any]]:
    if f.is_blank(call.fields.get("refills")):
        return refill_status_payload(selectors.refill_get(account=call.account, refill_id=_single_id(call, "refill")))
    requested = f.id_list("refills", call.fields.get("refills"))
    found = selectors.refills_by_id(account=call.account, refill_ids=[pk for _, pk in requested if pk is not None])
    not_found = error_payload(RefillNotFound.message)
    return [
        {"refill": pk if pk is not None else text, "status": found[pk].status if pk in found else not_found}
        for text, pk in requested
    ]


Handler = Callable[[Call], Any]

ACTIONS: dict[str, Handler] = {
    "services": services,
    "add": add,
    "status": status,
    "balance": balance,
    "cancel": cancel,
    "refill": refill,
    "refill_status": refill_status,
    # The seed's batch status, and the spellings other panels use for it.
    "multiplestatus": multiple_status,
    "multistatus": multiple_status,
    "multi_status": multiple_status,
    "status_multi": multiple_status,
}
