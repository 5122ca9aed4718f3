"""An API key's IP allow-list: addresses and CIDR networks, IPv4 and IPv6; empty admits any address.

Stored as canonical text, one entry per line (`203.0.113.9`, `198.51.100.0/24`, `2001:db8::/48`),
and parsed again at each call: a handful of entries parse in microseconds, and the parse is cached
by the text itself, so an edit takes effect at the next call in every process (no cache to clear).
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from django.core.exceptions import ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRIES = 100
_SEPARATORS = re.compile(r"[\s,;]+")


def _entry(text: str) -> Network:
    network = ipaddress.ip_network(text, strict=True)  # "10.0.0.1/24" is refused: it is ambiguous
    if network.version == 6 and network.network_address.ipv4_mapped is not None and network.prefixlen >= 96:
        # `::ffff:a.b.c.d` is how an IPv6 socket shows an IPv4 client; client_address unmaps those.
        network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
    return network


def parse(text: str) -> tuple[Network, ...]:
    """The networks of an allow-list written with commas, spaces or line breaks between entries.

    Raises ValidationError naming every entry that is not an address or a network.
    """
    entries = [entry for entry in _SEPARATORS.split(text or "") if entry]
    networks, bad = [], []
    for entry in entries:
        try:
            networks.append(_entry(entry))
        except ValueError as exc:
            if "host bits" in str(exc):
                meant = ipaddress.ip_network(entry, strict=False)
                bad.append(f"{entry!r} has host bits set (did you mean {meant}?)")
            else:
                bad.append(f"{entry!r} is not an IP address or network")
    if bad:
        raise ValidationError("; ".join(bad))
    if len(networks) > MAX_ENTRIES:
        raise ValidationError(f"At most {MAX_ENTRIES} entries")
    return tuple(dict.fromkeys(networks))  # repeats dropped, order kept


def canonical(text: str) -> str:
    """The allow-list as stored: one entry per line, a single address without its /32 or /128."""
    lines = []
    for network in parse(text):
        single = network.prefixlen == network.max_prefixlen
        lines.append(str(network.network_address) if single else str(network))
    return "\n".join(lines)


@lru_cache(maxsize=4096)
def _networks(stored: str) -> tuple[Network, ...]:
    return parse(stored)


def admits(stored: str, address: str | None) -> bool:
    """Whether a key with this stored allow-list may be used from `address` (a normalised IP)."""
    if not stored:
        return True
    if address is None:
        return False  # an address we cannot read is never on a list
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in _networks(stored))


def validate(text: str) -> None:
    """The model field's validator, so any form on ApiKey refuses a bad list."""
    parse(text)
