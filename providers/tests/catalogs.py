"""Upstream catalogs the import and sync tests serve from the stub panel, in other panels' spellings."""
from __future__ import annotations

from decimal import Decimal

from providers.services import provider_create


def entry(service, name, rate, *, category="Instagram Followers", type="Default", min=100, max=10000, **flags):
    return {"service": service, "name": name, "category": category, "type": type, "rate": rate, "min": min,
            "max": max, "refill": flags.get("refill", False), "cancel": flags.get("cancel", True),
            "dripfeed": flags.get("dripfeed", False), "description": flags.get("description", "")}


CATALOG = [
    entry(101, "IG Followers [Real]", "0.123456", refill=True, description="Start 0-1h"),
    entry("102", "IG Likes", 0.5, min="10", max="50000"),  # numbers as strings, a float rate
    entry(103, "TikTok Views", "0.0001", category="TikTok Views", dripfeed=True),
    entry(104, "IG Comments", "12", category="Instagram Comments", type="Custom Comments", min=1, max=1000),
    entry(105, "IG Auto Likes", "3", type="Subscriptions"),  # a type we do not offer
    entry(106, "Website Visits", "1.25", category=""),  # no category
]


def usd_provider(panel, **changes):
    """A provider in dollars on the stub panel: 1 USD = 34.12345678 TRY, 25 % markup by default."""
    fields = {"name": "Dollars", "api_url": panel.url, "api_key": "dollar-secret-key-0123456789",
              "currency": "USD", "exchange_rate": Decimal("34.12345678"), "default_markup_percent": Decimal("25")}
    return provider_create(**{**fields, **changes})
