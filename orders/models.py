from __future__ import annotations

from django.db import models
from django.db.models import Q


class OrderStatus(models.TextChoices):
    PENDING = "Pending"
    PROCESSING = "Processing"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"


ACTIVE_STATUSES = (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS)


class HoldReason(models.TextChoices):
    NONE = "", "—"
    NEEDS_CHECKING = "needs_checking", "Needs checking"
    PROVIDER_OUT_OF_FUNDS = "provider_out_of_funds", "Provider out of funds"
    PARKED = "parked", "Parked after repeated failures"


class Order(models.Model):
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="orders")
    link = models.CharField(max_length=2000, help_text="As the reseller sent it.")
    link_normalized = models.CharField(max_length=2000, help_text="Used by the one-active-order-per-link rule.")
    quantity = models.PositiveIntegerField(help_text="Total units, all drip-feed runs included.")
    charge = models.DecimalField(max_digits=16, decimal_places=5)
    start_count = models.PositiveBigIntegerField(default=0)
    remains = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    hold_reason = models.CharField(max_length=40, choices=HoldReason.choices, default="", blank=True)
    runs = models.PositiveIntegerField(null=True, blank=True, help_text="Drip-feed: number of runs.")
    interval = models.PositiveIntegerField(null=True, blank=True, help_text="Drip-feed: minutes between runs.")
    extra = models.JSONField(default=dict, blank=True, help_text="Type-specific fields, as sent.")
    # Fulfillment bookkeeping. attempts counts per-order tasks begun and not finished: a task
    # that keeps killing its worker parks the order instead of looping forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    deliver_from = models.DateTimeField(null=True, blank=True, help_text="When delivery starts (or started).")
    # The simulated engine's plan, fixed when the order is picked up (Pending → Processing).
    sim_speed = models.PositiveIntegerField(null=True, blank=True, help_text="Units per minute.")
    sim_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Units it will deliver in all.")
    sim_start_count = models.PositiveBigIntegerField(null=True, blank=True)
    # Upstream fulfillment. `provider` is copied from the service when the order is placed, so a
    # later catalog change never re-routes an order already in flight.
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    provider_order_id = models.CharField(
        max_length=64, null=True, blank=True, help_text="The provider's order id (text: providers' ids vary)."
    )
    cost = models.DecimalField(
        max_digits=16, decimal_places=5, null=True, blank=True,
        help_text="What the provider charged, in the panel's currency.",
    )
    provider_status = models.CharField(max_length=40, blank=True, help_text="The provider's last status, verbatim.")
    provider_submitted_at = models.DateTimeField(null=True, blank=True)
    provider_checked_at = models.DateTimeField(null=True, blank=True)
    # Forwarding retries: a temporary failure (nothing reached the provider) counts here and the
    # next try waits until provider_retry_at, with a bounded backoff (providers.forwarding).
    provider_failures = models.PositiveSmallIntegerField(default=0)
    provider_retry_at = models.DateTimeField(null=True, blank=True)
    # A reseller's cancel of an order already handed to the provider: passed on, and the order is
    # canceled (and refunded) only when polling sees the provider's Canceled. Set once.
    provider_cancel_requested_at = models.DateTimeField(null=True, blank=True)
    provider_cancel_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider accepted the passed-on cancel."
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_idempotency_key_per_account",
            ),
            models.CheckConstraint(condition=Q(charge__gte=0), name="order_charge_not_negative"),
            models.CheckConstraint(condition=Q(remains__lte=models.F("quantity")), name="order_remains_le_quantity"),
            # One upstream order is mirrored by one of ours: a second would be refunded twice.
            models.UniqueConstraint(
                fields=["provider", "provider_order_id"],
                condition=Q(provider_order_id__isnull=False),
                name="order_one_per_upstream_order",
            ),
        ]
        indexes = [
            # The active-order-per-link rule looks orders up by these three.
            models.Index(fields=["account", "service", "link_normalized"], name="order_active_link_idx"),
            # The tick's claims walk one status in primary-key order from where the last batch
            # ended (keyset): with `id` in the index they read only the rows they claim, however
            # many finished orders the table holds.
            models.Index(fields=["status", "hold_reason", "id"], name="order_status_hold_id_idx"),
            # start_count adds up what earlier orders delivered to the same link.
            models.Index(fields=["service", "link_normalized"], name="order_service_link_idx"),
            # Forwarding and polling walk one provider's orders of one status in primary-key
            # batches; partial, so the simulated orders (most of a demo panel) cost it nothing.
            models.Index(
                fields=["provider", "status", "hold_reason", "id"],
                condition=Q(provider__isnull=False),
                name="order_provider_poll_idx",
            ),
            # Polling asks about each provider's orders in flight, least recently checked first:
            # this index hands them out in that order, however many finished orders the provider
            # has. (Forwarding sets provider_checked_at when the provider accepts an order, so
            # polled orders have no NULL there; SQLite cannot index NULLS FIRST.)
            models.Index(
                fields=["provider", "provider_checked_at", "id"],
                condition=Q(provider_order_id__isnull=False, hold_reason="", status__in=["Processing", "In progress"]),
                name="order_provider_due_poll_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class OrderEvent(models.Model):
    """One row per status move (and per hold change): the order's history."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    old_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    new_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.CharField(max_length=150, help_text="`api:<username>`, `worker`, `operator:<username>` …")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.old_status or '∅'} → {self.new_status}"


class FulfillmentTick(models.Model):
    """The last fulfillment tick (one row): what `fulfillment_status` and monitoring read."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    moved = models.JSONField(default=dict, help_text="Orders handled per step.")

    def __str__(self) -> str:
        return f"tick at {self.finished_at:%Y-%m-%d %H:%M:%S}"


class RefillStatus(models.TextChoices):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"


class Refill(models.Model):
    """A reseller's request to re-deliver what dropped from a finished order."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="refills")
    status = models.CharField(max_length=20, choices=RefillStatus.choices, default=RefillStatus.PENDING)
    quantity = models.PositiveIntegerField(default=0, help_text="Units to re-deliver (what dropped).")
    sim_speed = models.PositiveIntegerField(default=1, help_text="Units per minute, from the service.")
    deliver_from = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was rejected, if it was.")
    # A provider-backed order's refill is passed on: claimed (submitted_at), then the provider's id.
    provider_refill_id = models.CharField(max_length=64, null=True, blank=True)
    provider_submitted_at = models.DateTimeField(null=True, blank=True)
    provider_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status"], name="refill_status_idx")]
        constraints = [
            # One running refill per order: the API's rule, also under races.
            models.UniqueConstraint(
                fields=["order"], condition=Q(status__in=["Pending", "In progress"]), name="refill_one_running_per_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Refill #{self.pk} of order #{self.order_id}"
