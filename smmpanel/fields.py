"""Parsing of raw request values (strings from a form or query, or JSON values), and their limits.

Strict on purpose: numbers are plain digit strings or JSON integers; `1e3`, `10.5`, `true`, `-5`
are refused with `Invalid parameter: NAME`, never silently coerced.

MAX_LENGTH is the one table of field lengths (docs/security.md, "Request limits"): every reader
below enforces it by the field's name, so a new field gets its limit here, not at its call site.
"""
from __future__ import annotations

import re
from typing import Any

from smmpanel.errors import InvalidParameter, MissingParameters, TooManyIds

MAX_BATCH_IDS = 100
# Characters per field, after trimming. `link` is checked by orders.links (its answer is
# `Invalid link`); the others answer `Invalid parameter: NAME`.
MAX_LENGTH: dict[str, int] = {
    "key": 128,  # generated keys are far shorter; accounts.services refuses longer ones too
    "action": 64,
    "idempotency_key": 200,  # orders.Order.idempotency_key
    "link": 2000,  # orders.Order.link
    "media": 2000,  # a post's URL, like `link`
    "username": 200,
    "hashtag": 200,
    # One line per item; the service's max quantity bounds the count of lines where it is the
    # quantity, this bounds the rest (a Mentions order's usernames).
    "comments": 100_000,
    "usernames": 100_000,
    "keywords": 100_000,
    "hashtags": 100_000,
    # Up to MAX_BATCH_IDS ids of up to 18 digits, with separators and some slack for spaces.
    "orders": 4000,
    "refills": 4000,
}
DEFAULT_MAX_LENGTH = 2000

_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a 64-bit integer
# Control characters (C0 and DEL), and lone surrogates: those cannot be stored (PostgreSQL text is
# UTF-8) and only arrive through JSON's `\ud800` escapes. List fields may hold line breaks. (C1
# characters such as NEL pass: a cp1252 "…" read as Latin-1 is one, inside a comment.)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_EXCEPT_LINE_BREAKS = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Only these break a list field's lines: str.splitlines() would also split on U+2028, NEL (\x85) …
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def max_length(name: str) -> int:
    return MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    return bool((_CONTROL_EXCEPT_LINE_BREAKS if multiline else _CONTROL).search(value))


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _plain_text(name: str, value: Any, *, multiline: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidParameter(name)
    value = str(value)
    if has_control_characters(value, multiline=multiline):
        raise InvalidParameter(name)
    return value.strip()


def text(name: str, value: Any, *, multiline: bool = False) -> str:
    """A text value within its MAX_LENGTH, without control characters (line breaks allowed when `multiline`)."""
    value = _plain_text(name, value, multiline=multiline)
    if len(value) > max_length(name):
        raise InvalidParameter(name)
    return value


def required_text(name: str, value: Any, *, multiline: bool = False) -> str:
    if is_blank(value):
        raise MissingParameters()
    return text(name, value, multiline=multiline)


def integer(name: str, value: Any) -> int:
    """A non-negative integer sent as digits or as a JSON integer."""
    if isinstance(value, bool):
        raise InvalidParameter(name)
    if isinstance(value, int):
        if value < 0 or value >= 10**18:
            raise InvalidParameter(name)
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _DIGITS.fullmatch(stripped):
            return int(stripped)
    raise InvalidParameter(name)


def lines(name: str, value: Any) -> list[str]:
    """A list field: one item per line, each trimmed, blank lines dropped."""
    if isinstance(value, list):  # a JSON client may send the lines as an array
        if not all(isinstance(item, str) for item in value):
            raise InvalidParameter(name)
        value = "\n".join(value)
    raw = text(name, value, multiline=True)
    return [line.strip() for line in _LINE_BREAK.split(raw) if line.strip()]


def id_list(name: str, value: Any) -> list[tuple[str, int | None]]:
    """Ids from `1,2,3` or a JSON array, each once, in order, paired with the text it came as.

    A malformed id keeps its text and gets None, so a batch answers it item by item.
    """
    if is_blank(value):
        raise MissingParameters()
    if isinstance(value, list):
        # Array items are ids (integers or strings); anything else makes the field malformed.
        if not all(isinstance(item, (str, int)) for item in value):
            raise InvalidParameter(name)
        value = ",".join(map(str, value))
    raw = _plain_text(name, value)
    items = [part.strip() for part in raw.split(",")]
    # Keyed by the number, so `7` and `007` are one id answered once; malformed ids by their text.
    unique: dict[int | str, tuple[str, int | None]] = {}
    for item in items:
        if item:
            pk = int(item) if _DIGITS.fullmatch(item) else None
            unique.setdefault(item if pk is None else pk, (item, pk))
    if not unique:
        raise MissingParameters()
    if len(unique) > MAX_BATCH_IDS:
        raise TooManyIds()
    # After the count, so too many ids is always `Too many orders in one request`.
    if len(raw) > max_length(name):
        raise InvalidParameter(name)
    return list(unique.values())
