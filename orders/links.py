"""Which links an order may target, and the normalised form the active-order rule compares."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from smmpanel.errors import InvalidLink
from smmpanel.fields import max_length

MAX_LINK_LENGTH = max_length("link")
_HANDLE = re.compile(r"@?[A-Za-z0-9._-]+")
_URL_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# Whitespace, control characters (C0, DEL, C1) and lone surrogates (unstorable as UTF-8).
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# Query parameters that say how a link was shared or clicked, never which post or profile it is:
# the same post shared twice differs only in these, and must stay one active order.
_TRACKING_PREFIXES = ("utm_",)  # utm_source, utm_medium, utm_campaign … (campaign tagging)
_TRACKING_NAMES = frozenset({
    "igshid", "igsh",  # Instagram's share id
    "si",  # YouTube's and Spotify's share id
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "ttclid", "twclid",  # ad click ids
    "is_from_webapp", "sender_device", "sender_web_id",  # TikTok's "copy link" from the web
    "ref_src", "ref_url",  # X/Twitter embeds and share buttons
    "mc_cid", "mc_eid",  # Mailchimp
    "_ga", "_gl",  # Google Analytics cross-domain linker
})
# Parameters that are tracking only with these values: YouTube's `feature=share` (and
# `feature=youtu.be` of its short links); other `feature=` values may select content.
_TRACKING_VALUES = {"feature": frozenset({"share", "shared", "youtu.be"})}


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


def _is_tracking(parameter: str) -> bool:
    name, _, value = parameter.partition("=")
    name = unquote(name).lower()
    if name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_NAMES:
        return True
    return unquote(value).lower() in _TRACKING_VALUES.get(name, ())


def link_normalize(link: str) -> str:
    """Scheme and host lower-cased, `www.`, a trailing slash, tracking parameters and the fragment dropped.

    A bare handle loses its `@` and case (handles are case-insensitive on the networks). The other
    query parameters keep their text and order: they may well pick the post.
    """
    if _HANDLE.fullmatch(link):
        return link.removeprefix("@").lower()
    parts = urlsplit(link)
    host = parts.netloc.lower()
    userinfo, at, hostport = host.rpartition("@")
    hostport = hostport.removeprefix("www.")
    netloc = f"{userinfo}{at}{hostport}"
    path = parts.path.rstrip("/")
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))
