from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.service_types import TYPE_SPECS, ServiceType


class Platform(models.TextChoices):
    INSTAGRAM = "instagram", "Instagram"
    TIKTOK = "tiktok", "TikTok"
    YOUTUBE = "youtube", "YouTube"
    TWITTER = "twitter", "X / Twitter"
    FACEBOOK = "facebook", "Facebook"
    TELEGRAM = "telegram", "Telegram"
    SPOTIFY = "spotify", "Spotify"
    WEBSITE = "website", "Website traffic"
    OTHER = "other", "Other"


class Category(models.Model):
    name = models.CharField(max_length=200, unique=True)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.OTHER)
    sort_order = models.PositiveIntegerField(default=0, help_text="Lower comes first in the catalog.")

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=40, choices=ServiceType.choices, default=ServiceType.DEFAULT)
    rate = models.DecimalField(
        max_digits=16,
        decimal_places=6,
        help_text="Price per 1000 units (for package types: the price of one order).",
    )
    min_quantity = models.PositiveIntegerField(default=100)
    max_quantity = models.PositiveIntegerField(default=10000)
    is_active = models.BooleanField(default=True)
    refill = models.BooleanField(default=False, help_text="Resellers may request refills.")
    cancel = models.BooleanField(default=True, help_text="Resellers may cancel orders not yet started.")
    dripfeed = models.BooleanField(default=False, help_text="Orders may be split into runs.")
    description = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0, help_text="Lower comes first in the catalog.")
    # Simulated fulfillment: how fast the built-in engine delivers this service.
    start_delay_seconds = models.PositiveIntegerField(default=0, help_text="Simulated: wait before delivery starts.")
    speed_per_minute = models.PositiveIntegerField(default=1000, help_text="Simulated: units delivered per minute.")
    shortfall_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Simulated: share of orders (0–100 %) that stop short and end Partial."
    )
    drop_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Simulated: share (0–100 %) of what an order delivered that drops away afterwards."
    )
    refill_days = models.PositiveSmallIntegerField(
        default=30, help_text="Refills may be requested this many days after the order was placed."
    )
    # Upstream fulfillment: set for services resold from another panel; empty for simulated ones.
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    provider_service_id = models.CharField(max_length=64, null=True, blank=True, help_text="The provider's service id.")
    provider_rate = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, blank=True,
        help_text="The provider's price per 1000, in the provider's currency, as last synced.",
    )
    markup_percent = models.DecimalField(
        max_digits=9, decimal_places=4, null=True, blank=True, help_text="Empty: the provider's default markup."
    )
    rate_is_manual = models.BooleanField(default=False, help_text="The rate was set by hand: sync never changes it.")
    # Sync un-pauses only what it paused: a service an operator disabled stays disabled.
    paused_by_sync = models.BooleanField(default=False, help_text="Disabled by sync (gone or inactive upstream).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__sort_order", "category_id", "sort_order", "id"]
        constraints = [
            # Importing the same upstream service twice would sell one thing under two prices.
            models.UniqueConstraint(
                fields=["provider", "provider_service_id"],
                condition=Q(provider__isnull=False),
                name="service_one_per_upstream_service",
            ),
            models.CheckConstraint(
                condition=(Q(provider__isnull=True) & Q(provider_service_id__isnull=True))
                | (Q(provider__isnull=False) & Q(provider_service_id__isnull=False) & ~Q(provider_service_id="")),
                name="service_provider_with_upstream_id",
            ),
            models.CheckConstraint(
                condition=Q(markup_percent__isnull=True) | Q(markup_percent__gt=-100), name="service_markup_above_minus_100"
            ),
            models.CheckConstraint(condition=Q(rate__gte=0), name="service_rate_not_negative"),
            models.CheckConstraint(
                condition=Q(min_quantity__gte=1) & Q(max_quantity__gte=models.F("min_quantity")),
                name="service_quantity_bounds",
            ),
            models.CheckConstraint(condition=Q(speed_per_minute__gte=1), name="service_speed_positive"),
            models.CheckConstraint(condition=Q(shortfall_percent__lte=100), name="service_shortfall_percent"),
            models.CheckConstraint(condition=Q(drop_percent__lte=100), name="service_drop_percent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def spec(self):
        return TYPE_SPECS[self.type]


class PriceChange(models.Model):
    """Who changed a service's rate, when, from what to what. Written by catalog.services only."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="price_changes")
    old_rate = models.DecimalField(max_digits=16, decimal_places=6)
    new_rate = models.DecimalField(max_digits=16, decimal_places=6)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.old_rate} → {self.new_rate}"


class CustomRate(models.Model):
    """One reseller's own price for a service, used by `services`, `add` and the admin instead of the rate."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="custom_rates")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="custom_rates")
    rate = models.DecimalField(max_digits=16, decimal_places=6, help_text="Price per 1000 units for this reseller.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "service"], name="custom_rate_one_per_reseller_service"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="custom_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.service}: {self.rate}"


class CatalogVersion(models.Model):
    """One row whose `token` changes with every write to Service, Category or CustomRate, in the
    writing transaction: the key under which the API's `services` answer is cached, and the
    version of each process's catalog snapshot (catalog/snapshot.py).

    Set by database triggers (migration 0006), not by Django code: they fire for admin saves,
    `queryset.update()`, `bulk_update`/`bulk_create`, management commands, provider sync and hand-typed
    SQL alike — no write path can forget to invalidate. A random token rather than a counter: a
    rolled-back write or a restored backup can never bring back a number already cached with other data.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.token
