"""The wire shapes of the reseller API's answers (docs/api.md), built from model rows."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from catalog.models import Service
from orders.models import Refill
from orders.selectors import StatusRow
from smmpanel.money import format_amount, format_rate


def service_payload(service: Service, rate: Decimal | None = None) -> dict[str, Any]:
    """A catalog entry; `rate` is the reseller's own price when it has one."""
    return {
        "service": service.pk,
        "name": service.name,
        "category": service.category.name,
        "rate": format_rate(service.rate if rate is None else rate),
        "min": service.min_quantity,
        "max": service.max_quantity,
        "type": service.type,
        "refill": service.refill,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed,
        "description": service.description,
    }


def order_status_payload(order: StatusRow) -> dict[str, Any]:
    return {
        "charge": format_amount(order.charge),
        "start_count": order.start_count,
        "status": order.status,
        "remains": order.remains,
        "currency": settings.PANEL_CURRENCY,
    }


def refill_status_payload(refill: Refill) -> dict[str, str]:
    return {"status": refill.status}


def balance_payload(balance) -> dict[str, Any]:
    return {"balance": format_amount(balance), "currency": settings.PANEL_CURRENCY}


def error_payload(message: str) -> dict[str, str]:
    return {"error": message}
