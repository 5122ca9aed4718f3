"""Which links an order may target, and the normalised form the active-order rule compares."""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from smmpanel.errors import InvalidLink

MAX_LINK_LENGTH = 2000
_HANDLE = re.compile(r"@?[A-Za-z0-9._-]+")
_URL_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def link_validate(link: str) -> str:
    """Return the link as sent, or raise InvalidLink: an http(s) URL or a bare handle."""
    if not link or len(link) > MAX_LINK_LENGTH or _WHITESPACE_OR_CONTROL.search(link):
        raise InvalidLink()
    if _HANDLE.fullmatch(link):
        return link
    if not _URL_SCHEME.match(link):
        raise InvalidLink()
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidLink() from exc
    if not parts.hostname:
        raise InvalidLink()
    return link


def link_normalize(link: str) -> str:
    """Scheme and host lower-cased, `www.` and a trailing slash and the fragment dropped.

    A bare handle loses its `@` and case (handles are case-insensitive on the networks).
    """
    if _HANDLE.fullmatch(link):
        return link.removeprefix("@").lower()
    parts = urlsplit(link)
    host = parts.netloc.lower()
    userinfo, at, hostport = host.rpartition("@")
    hostport = hostport.removeprefix("www.")
    netloc = f"{userinfo}{at}{hostport}"
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))
