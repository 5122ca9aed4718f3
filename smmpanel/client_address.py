"""The reseller API's client address: one answer for the rate limiter, the API keys' allow-lists,
the keys' last-used address and the request log, so they can never disagree about who called.
"""
from __future__ import annotations

import ipaddress

from django.conf import settings


def normalize_ip(text: str) -> str | None:
    """An address in its one canonical spelling, or None when `text` is not an IP address.

    An IPv4 address seen through an IPv6 socket (`::ffff:203.0.113.9`) becomes `203.0.113.9`, so an
    IPv4 allow-list entry matches it and the log spells it one way.
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def client_address(request) -> str | None:
    """REMOTE_ADDR; behind API_TRUSTED_PROXIES proxies, the address the outermost of them saw
    (X-Forwarded-For counted from the right: entries further left are the client's to forge).
    None when that is not an IP address (an allow-list never admits it).
    """
    proxies = settings.API_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies > 0 and forwarded:
        return normalize_ip(forwarded[-min(proxies, len(forwarded))])
    return normalize_ip(request.META.get("REMOTE_ADDR") or "")
