"""Service types as data: what `add` requires for each type, and how quantity and charge follow.

Adding a type means adding a row here; the API and the order service read nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from django.db import models


class ServiceType(models.TextChoices):
    DEFAULT = "Default"
    PACKAGE = "Package"
    CUSTOM_COMMENTS = "Custom Comments"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    COMMENT_LIKES = "Comment Likes"
    POLL = "Poll"
    SEO = "SEO"


class QuantityFrom(Enum):
    FIELD = "quantity"  # the `quantity` field (times `runs` for drip-feed)
    ONE = "one"  # a package: always 1
    LINES = "lines"  # the number of lines of the type's list field


# Fields that arrive as one line per item (split on line breaks, trimmed, blanks dropped).
LIST_FIELDS = frozenset({"comments", "usernames", "keywords", "hashtags"})


@dataclass(frozen=True)
class TypeSpec:
    fields: tuple[str, ...]  # required besides `link` (and `quantity` when quantity_from is FIELD)
    quantity_from: QuantityFrom = QuantityFrom.FIELD
    lines_field: str | None = None
    flat_price: bool = False  # rate is the price of the whole order, not per 1000


TYPE_SPECS: dict[str, TypeSpec] = {
    ServiceType.DEFAULT: TypeSpec(fields=()),
    ServiceType.PACKAGE: TypeSpec(fields=(), quantity_from=QuantityFrom.ONE, flat_price=True),
    ServiceType.CUSTOM_COMMENTS: TypeSpec(
        fields=("comments",), quantity_from=QuantityFrom.LINES, lines_field="comments"
    ),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: TypeSpec(
        fields=("comments",),
        quantity_from=QuantityFrom.LINES,
        lines_field="comments",
        flat_price=True,
    ),
    ServiceType.MENTIONS: TypeSpec(fields=("usernames",)),
    ServiceType.MENTIONS_WITH_HASHTAGS: TypeSpec(fields=("usernames", "hashtags")),
    ServiceType.MENTIONS_CUSTOM_LIST: TypeSpec(
        fields=("usernames",), quantity_from=QuantityFrom.LINES, lines_field="usernames"
    ),
    ServiceType.MENTIONS_HASHTAG: TypeSpec(fields=("hashtag",)),
    ServiceType.MENTIONS_USER_FOLLOWERS: TypeSpec(fields=("username",)),
    ServiceType.MENTIONS_MEDIA_LIKERS: TypeSpec(fields=("media",)),
    ServiceType.COMMENT_LIKES: TypeSpec(fields=("username",)),
    ServiceType.POLL: TypeSpec(fields=("answer_number",)),
    ServiceType.SEO: TypeSpec(fields=("keywords",)),
}

# Every type-specific field name, so a request's extras can be picked out in one place.
EXTRA_FIELDS: tuple[str, ...] = tuple(
    sorted({name for spec in TYPE_SPECS.values() for name in spec.fields})
)
