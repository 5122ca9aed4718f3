"""Forms for operator actions about forwarded orders (wired in orders/admin.py)."""
from __future__ import annotations

from django import forms

from orders.models import Order


class ProviderOrderIdForm(forms.Form):
    provider_order_id = forms.CharField(
        max_length=Order._meta.get_field("provider_order_id").max_length,
        help_text="The order's id at the provider, as found there (its order list, by link and time).",
    )
