"""Filters for the API documentation page."""
from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def codespans(text: str) -> SafeString:
    """The reference's prose, escaped, with `backticked` parts as <code>."""
    parts = str(text).split("`")
    return mark_safe("".join(f"<code>{escape(part)}</code>" if i % 2 else escape(part) for i, part in enumerate(parts)))
