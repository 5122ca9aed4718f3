from django import template

from smmpanel.money import format_amount

register = template.Library()


@register.filter
def amount(value) -> str:
    """An amount as the API prints it: `"125.50"`, `"0.27819"`."""
    return "" if value is None else format_amount(value)
