from __future__ import annotations

from django.db import models
from django.utils import timezone


class ApiRequest(models.Model):
    """One reseller API call: who, from where, what, and how it ended. Never the key (only the
    matched key's stored prefix), never the request body. Purged after API_LOG_RETENTION_DAYS.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True, help_text="When the call arrived.")
    # SET_NULL, not PROTECT: a log must never be the reason an account cannot go (the ledger's
    # PROTECT is what keeps accounts), and the row keeps the key prefix either way. No database
    # constraint: rows are written after the fact from a process's buffer (at the latest when it
    # exits) and a log row must never be refused; accounts are never deleted, so the id stays good.
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name="reseller", db_constraint=False,
    )
    key_prefix = models.CharField(max_length=8, blank=True, db_index=True,
                                  help_text="The prefix of the key that matched; empty for an invalid key.")
    action = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=200, help_text="`ok`, or the error message answered.")
    client_ip = models.CharField("client address", max_length=45, blank=True, db_index=True)
    order_ids = models.CharField("orders", max_length=1100, blank=True,
                                 help_text="The order placed, or the orders asked about.")
    duration_ms = models.PositiveIntegerField("ms", help_text="Time to build the answer, in milliseconds.")

    class Meta:
        verbose_name = "API request"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action or '-'} {self.outcome}"
