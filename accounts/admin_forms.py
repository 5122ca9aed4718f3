"""Forms the operator fills in the admin: every money move has an amount and a reason."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model

from accounts.services import MAX_BALANCE

AMOUNT = {"max_digits": 16, "decimal_places": 5}


class FundsForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.00001"), max_value=MAX_BALANCE, **AMOUNT)
    memo = forms.CharField(max_length=500, help_text="Why: a payment reference, a ticket number, a reason.")


class AdjustForm(forms.Form):
    amount = forms.DecimalField(
        min_value=-MAX_BALANCE, max_value=MAX_BALANCE, help_text="Positive adds, negative deducts.", **AMOUNT
    )
    memo = forms.CharField(max_length=500, help_text="Why the balance is corrected.")

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return self.cleaned_data["amount"]


class ResellerCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    opening_balance = forms.DecimalField(min_value=0, max_value=MAX_BALANCE, initial=0, required=False, **AMOUNT)

    def clean_username(self):
        User = get_user_model()
        username = self.cleaned_data["username"].strip()
        User._meta.get_field(User.USERNAME_FIELD).clean(username, None)
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError("A user with this name exists.")
        return username
