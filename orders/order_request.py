"""Turn the raw fields of an `add` into a validated order request, in the API's check order.

service → required fields → drip-feed → field formats → bounds → link. (The active-order rule
and the balance are checked by orders.services under the account lock.)
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog import selectors as catalog_selectors
from catalog.models import Service
from catalog.service_types import EXTRA_FIELDS, LIST_FIELDS, QuantityFrom
from orders.links import link_normalize, link_validate
from smmpanel import fields as f
from smmpanel.errors import (
    DripFeedNotAvailable,
    InvalidParameter,
    MissingParameters,
    QuantityOutOfBounds,
    ServiceNotFound,
)
from smmpanel.money import order_charge

RUNS_RANGE = (2, 1000)
INTERVAL_RANGE = (1, 1440)  # minutes
INTEGER_EXTRAS = frozenset({"answer_number"})
FINGERPRINT_FIELDS = ("service", "link", "quantity", "runs", "interval", *EXTRA_FIELDS)


@dataclass(frozen=True)
class OrderRequest:
    service: Service
    link: str
    link_normalized: str
    quantity: int
    charge: Decimal
    runs: int | None = None
    interval: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def request_fingerprint(fields: Mapping[str, Any]) -> str:
    """A digest of what an `add` asked for, to tell a retry from a different order."""
    canonical = {
        name: (fields[name] if isinstance(fields[name], list) else str(fields[name]).strip())
        for name in FINGERPRINT_FIELDS
        if not f.is_blank(fields.get(name))
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def service_for_order(value: Any, account_id: int | None = None, catalog_version: str | None = None) -> Service:
    """The active service asked for, with the reseller's `own_rate` (see catalog.selectors)."""
    if f.is_blank(value):
        raise MissingParameters()
    service = catalog_selectors.service_for_order(
        service_id=f.integer("service", value), account_id=account_id, catalog_version=catalog_version,
    )
    if service is None:
        raise ServiceNotFound()
    return service


def order_request_parse(
    *, fields: Mapping[str, Any], account_id: int | None = None, catalog_version: str | None = None,
) -> OrderRequest:
    """Validate an `add` request's fields; raises the first DomainError in the API's order.

    The charge uses the reseller's own rate for the service when it has one. `catalog_version`, the
    catalog's current version token when the caller has it, lets the service come from this
    process's snapshot (catalog/snapshot.py).
    """
    service = service_for_order(fields.get("service"), account_id, catalog_version)
    spec = service.spec
    wants_quantity = spec.quantity_from is QuantityFrom.FIELD

    required = ("link", *(("quantity",) if wants_quantity else ()), *spec.fields)
    if any(f.is_blank(fields.get(name)) for name in required):
        raise MissingParameters()

    dripfeed = not (f.is_blank(fields.get("runs")) and f.is_blank(fields.get("interval")))
    if dripfeed:
        if not (service.dripfeed and wants_quantity):
            raise DripFeedNotAvailable()
        if f.is_blank(fields.get("runs")) or f.is_blank(fields.get("interval")):
            raise MissingParameters()

    # A control character in a link is `Invalid link`, found at the link step (API.md).
    link = fields["link"].strip(" ") if isinstance(fields["link"], str) else f.text("link", fields["link"])
    extra: dict[str, Any] = {}
    line_count = 0
    for name in spec.fields:
        if name in LIST_FIELDS:
            items = f.lines(name, fields[name])
            if not items:
                raise MissingParameters()
            extra[name] = "\n".join(items)
            if name == spec.lines_field:
                line_count = len(items)
        elif name in INTEGER_EXTRAS:
            extra[name] = f.integer(name, fields[name])
        else:
            extra[name] = f.text(name, fields[name])

    runs = interval = None
    if wants_quantity:
        quantity = f.integer("quantity", fields["quantity"])
        if dripfeed:
            runs = f.integer("runs", fields["runs"])
            interval = f.integer("interval", fields["interval"])
    elif spec.quantity_from is QuantityFrom.LINES:
        quantity = line_count
    else:
        quantity = 1

    if runs is not None and not RUNS_RANGE[0] <= runs <= RUNS_RANGE[1]:
        raise InvalidParameter("runs")
    if interval is not None and not INTERVAL_RANGE[0] <= interval <= INTERVAL_RANGE[1]:
        raise InvalidParameter("interval")
    total = quantity * (runs or 1)
    if spec.quantity_from is not QuantityFrom.ONE:
        if total < service.min_quantity:
            raise QuantityOutOfBounds.below(service.min_quantity)
        if total > service.max_quantity:
            raise QuantityOutOfBounds.above(service.max_quantity)

    link_validate(link)
    return OrderRequest(
        service=service,
        link=link,
        link_normalized=link_normalize(link),
        quantity=total,
        charge=order_charge(rate=service.rate if service.own_rate is None else service.own_rate, quantity=total, flat=spec.flat_price),
        runs=runs,
        interval=interval,
        extra=extra,
    )
