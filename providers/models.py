"""Upstream providers: other panels that speak the same API, and a snapshot of their catalogs.

The API key is stored in clear (the panel must send it), so it is kept out of `str()`/`repr()`,
logs and exception messages; `masked_key` is what operators see after saving it.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

currency_code = RegexValidator(r"^[A-Z]{3}$", "Three capital letters, e.g. USD.")


def panel_currency() -> str:
    return settings.PANEL_CURRENCY


class PermanentErrorPolicy(models.TextChoices):
    CANCEL = "cancel", "Cancel the order with a full refund"
    HOLD = "hold", "Hold the order for an operator"


class Provider(models.Model):
    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField(max_length=500, help_text="The provider's API endpoint, e.g. https://panel.example/api/v2")
    api_key = models.CharField(max_length=500, help_text="Sent to the provider with every call; never shown again in full.")
    is_active = models.BooleanField(default=True, help_text="Inactive providers get no new orders and are not synced.")
    currency = models.CharField(
        max_length=3, default=panel_currency, validators=[currency_code],
        help_text="The currency of the provider's rates and charges.",
    )
    # Panel-currency units per one unit of the provider's currency. It is 1 when the currencies
    # are the same; otherwise the operator sets it (import refuses the provider until then).
    # Eight places: a rate of 6 places times it must still be exact to 6 places after rounding.
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    default_markup_percent = models.DecimalField(
        max_digits=9, decimal_places=4, default=Decimal(0),
        help_text="Added to the provider's rate for imported services without a markup of their own.",
    )
    on_permanent_error = models.CharField(
        max_length=10, choices=PermanentErrorPolicy.choices, default=PermanentErrorPolicy.CANCEL,
        help_text="What to do with an order the provider refuses for good (invalid link, service gone …).",
    )
    # The last `balance` answer, in the provider's own words (its currency may differ from ours).
    balance = models.DecimalField(max_digits=20, decimal_places=5, null=True, blank=True)
    balance_currency = models.CharField(max_length=3, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    # Health: every call records its outcome, so admin can show a provider that stopped answering.
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    catalog_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When sync last compared our services with the provider's catalog."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(exchange_rate__isnull=True) | Q(exchange_rate__gt=0), name="provider_exchange_rate_positive"
            ),
            models.CheckConstraint(condition=Q(default_markup_percent__gt=-100), name="provider_markup_above_minus_100"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Provider #{self.pk} {self.name}>"  # never the key

    @property
    def masked_key(self) -> str:
        """`••••wxyz`: enough to tell two keys apart, too little to use one."""
        key = self.api_key or ""
        return "••••" + key[-4:] if len(key) >= 12 else "••••"

    @property
    def panel_exchange_rate(self) -> Decimal | None:
        """Panel-currency units per provider-currency unit; None while the operator has not set it."""
        if self.currency == settings.PANEL_CURRENCY:
            return Decimal(1)
        return self.exchange_rate


class ProviderService(models.Model):
    """The provider's catalog as last fetched: what an operator picks imports from and sync compares.

    One row per upstream service id, kept after the service vanishes upstream (`is_listed` off) so
    that sync can tell "gone" from "never seen". Values are the provider's own (its currency).
    """

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="upstream_services")
    upstream_id = models.CharField(max_length=64, help_text="The provider's service id.")
    name = models.CharField(max_length=500)
    category = models.CharField(max_length=500, blank=True)
    type = models.CharField(max_length=100, blank=True, help_text="As the provider spells it.")
    rate = models.DecimalField(max_digits=20, decimal_places=6, help_text="Per 1000, in the provider's currency.")
    min_quantity = models.PositiveIntegerField()
    max_quantity = models.PositiveIntegerField()
    refill = models.BooleanField(default=False)
    cancel = models.BooleanField(default=False)
    dripfeed = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    is_listed = models.BooleanField(default=True, help_text="In the provider's last `services` answer.")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["provider_id", "category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_id"], name="provider_service_unique_upstream_id"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.upstream_id} {self.name}"


class SyncChangeKind(models.TextChoices):
    IMPORTED = "imported", "Imported"
    UPDATED = "updated", "Updated from the provider"
    RATE = "rate", "Price changed"
    PAUSED = "paused", "Paused"
    UNPAUSED = "unpaused", "Un-paused"


class ServiceSyncChange(models.Model):
    """One change import or sync made to one of our services: the log operators read to see what
    the provider's catalog did to ours. Append-only, written by providers.catalog_* only."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="sync_changes")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="sync_changes")
    kind = models.CharField(max_length=20, choices=SyncChangeKind.choices)
    detail = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"
