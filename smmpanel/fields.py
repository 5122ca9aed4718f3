"""Parsing of raw request values (strings from a form or query, or JSON values).

Strict on purpose: numbers are plain digit strings or JSON integers; `1e3`, `10.5`, `true`, `-5`
are refused with `Invalid parameter: NAME`, never silently coerced.
"""
from __future__ import annotations

import re
from typing import Any

from smmpanel.errors import InvalidParameter, MissingParameters, TooManyIds

MAX_BATCH_IDS = 100
_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a 64-bit integer
# Control characters (C0 and DEL); list fields may hold line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LINE_BREAKS = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
# Only these break a list field's lines: str.splitlines() would also split on U+2028, NEL (\x85) …
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def text(name: str, value: Any, *, multiline: bool = False) -> str:
    """A text value without control characters (line breaks allowed when `multiline`)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidParameter(name)
    value = str(value)
    if (_CONTROL_EXCEPT_LINE_BREAKS if multiline else _CONTROL).search(value):
        raise InvalidParameter(name)
    return value.strip()


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
        items = [str(item).strip() if not isinstance(item, bool) else str(item) for item in value]
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        items = [part.strip() for part in text(name, value).split(",")]
    else:
        raise InvalidParameter(name)
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
    return list(unique.values())
