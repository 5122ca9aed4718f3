from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts import allowlist


class Account(models.Model):
    """A reseller's wallet. The balance only ever changes through accounts.services."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account")
    balance = models.DecimalField(max_digits=16, decimal_places=5, default=0)
    is_active = models.BooleanField(default=True, help_text="A disabled account's keys are refused.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "reseller"  # what operators call an account
        permissions = [
            ("move_money", "Can add, deduct and adjust funds"),
            ("manage_keys", "Can issue and revoke API keys"),
        ]
        constraints = [
            # The code checks first; this makes a bug there fail loudly instead of overdrawing.
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return self.user.get_username()


class ApiKey(models.Model):
    """A reseller API key, stored as its SHA-256 digest; the key itself is shown once."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell keys apart.")
    digest = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, help_text="The address of the last use.")
    allowed_ips = models.TextField(
        "allowed addresses",
        blank=True,
        validators=[allowlist.validate],
        help_text="Addresses and networks (CIDR, IPv4 or IPv6) the key may be used from, one per line; "
                  "empty: any address.",
    )

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}…"


class LedgerKind(models.TextChoices):
    DEPOSIT = "deposit"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class LedgerEntry(models.Model):
    """Append-only money log: one row per balance change, written in the same transaction.

    Invariant: an account's balance equals the sum of its entries' amounts.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(max_digits=16, decimal_places=5, help_text="Signed: + credits, − debits.")
    balance_after = models.DecimalField(max_digits=16, decimal_places=5)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    memo = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The operator who made this entry; empty for the API and workers.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-id"]
        constraints = [
            # At most one charge and one refund per order, whatever retries or races happen.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(kind__in=["charge", "refund"]),
                name="ledger_one_charge_one_refund_per_order",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
