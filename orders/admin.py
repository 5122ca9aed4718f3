from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.models import Account, LedgerEntry
from orders.dashboard import orders_with_refund
from orders.models import Order, OrderEvent, Refill, RefillStatus
from orders.services import (
    order_mark_completed,
    order_mark_partial,
    order_operator_cancel,
    order_resend,
)
from orders.services.refills import refill_finish
from smmpanel.admin_base import ReadOnlyAdmin, ReadOnlyInline
from smmpanel.errors import DomainError
from smmpanel.money import ZERO, format_amount


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "old_status", "new_status", "reason", "actor"]
    verbose_name_plural = "history"


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "memo", "created_by"]
    verbose_name_plural = "money"


class DeliveredForm(forms.Form):
    delivered = forms.IntegerField(
        min_value=0, help_text="Units delivered, for every selected order; the rest of each charge is refunded."
    )


MAX_SEARCH_IDS = 100
_ID_SEPARATORS = re.compile(r"[\s,;]+")


def order_ids_in(search_term: str) -> list[int] | None:
    """The order ids a search term lists (`123`, `#123`, `1, 2 3`), or None when it is not only ids."""
    tokens = [token.lstrip("#") for token in _ID_SEPARATORS.split(search_term.strip()) if token]
    if not tokens or len(tokens) > MAX_SEARCH_IDS or not all(token.isdigit() and len(token) <= 18 for token in tokens):
        return None
    return [int(token) for token in tokens]


class AccountFilter(admin.RelatedOnlyFieldListFilter):
    """The resellers that have orders, in one query: an account is named by its user, which the
    stock filter would load one query per reseller.
    """

    def field_choices(self, field, request, model_admin):
        account_ids = model_admin.get_queryset(request).distinct().values_list("account_id", flat=True)
        accounts = Account.objects.filter(pk__in=account_ids).select_related("user").order_by("user__username")
        return [(account.pk, str(account)) for account in accounts]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are read here; status and money move only through the actions, i.e. orders.services."""

    list_display = [
        "id", "status", "hold_reason", "service", "account", "short_link", "quantity", "charge_display",
        "revenue_display", "cost_display", "margin_display", "start_count", "remains", "created_at",
    ]
    list_filter = [
        "status", "hold_reason", "created_at",
        ("service", admin.RelatedOnlyFieldListFilter), ("account", AccountFilter),
        ("provider", admin.RelatedOnlyFieldListFilter),
    ]
    readonly_fields = ["revenue_display", "margin_display"]
    list_select_related = ["service", "account__user"]
    search_fields = ["link", "link_normalized", "=account__user__username"]
    search_help_text = "Order ids (one, or several separated by commas or spaces), a reseller's username, or part of a link."
    date_hierarchy = "created_at"
    inlines = [OrderEventInline, LedgerEntryInline]
    actions = [
        "cancel_and_refund", "mark_partial", "mark_completed", "resend", "forward_confirm", "forward_not_placed",
    ]
    list_per_page = 100

    def get_search_results(self, request, queryset, search_term):
        # Support pastes order ids from a reseller's ticket: digits mean ids only, never links
        # that happen to contain them.
        ids = order_ids_in(search_term)
        if ids is not None:
            return queryset.filter(pk__in=ids), False
        return super().get_search_results(request, queryset, search_term)

    def get_queryset(self, request):
        # Revenue and margin per row from the joined refund (one row at most per order), not a
        # query per order. Margin is unknown while a provider order has no cost yet.
        revenue = F("charge") - Coalesce(F("refund_entry__amount"), Value(ZERO))
        return orders_with_refund(super().get_queryset(request)).annotate(revenue=revenue).annotate(
            margin=F("revenue") - Coalesce(F("cost"), Value(ZERO))
        )

    @admin.display(description="Revenue", ordering="revenue")
    def revenue_display(self, order: Order) -> str:
        return format_amount(order.revenue)

    @admin.display(description="Cost", ordering="cost")
    def cost_display(self, order: Order) -> str:
        if order.cost is None:
            return "—" if order.provider_id else "0.00"
        return format_amount(order.cost)

    @admin.display(description="Margin", ordering="margin")
    def margin_display(self, order: Order) -> str:
        if order.provider_id and order.cost is None:
            return "—"
        return format_amount(order.margin)

    @admin.display(description="Link", ordering="link")
    def short_link(self, order: Order) -> str:
        text = order.link if len(order.link) <= 60 else order.link[:57] + "…"
        return format_html('<span title="{}">{}</span>', order.link, text)

    @admin.display(description="Charge", ordering="charge")
    def charge_display(self, order: Order) -> str:
        return format_amount(order.charge)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # no field is edited by hand: the actions below move orders

    def has_delete_permission(self, request, obj=None):
        return False

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_order")

    def _each(self, request, queryset, verb: str, move: Callable[[int, str], Order]) -> None:
        """Apply a move to every selected order on its own; report what was done and what refused."""
        done, refused = Counter(), Counter()
        actor = f"operator:{request.user.get_username()}"
        for order_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                done[move(order_id, actor).status] += 1
            except DomainError as exc:
                refused[exc.message] += 1
        # Say where the orders ended: a cancel of a started order ends it Partial, not Canceled.
        now = ", ".join(f"{status} {count}" for status, count in done.items())
        self.message_user(
            request, f"{verb}: {done.total()} order(s)" + (f", now {now}." if done else "."),
            messages.SUCCESS if done else messages.INFO,
        )
        for reason, count in refused.items():
            self.message_user(request, f"Refused {count} order(s): {reason}", messages.WARNING)

    @admin.action(description="Cancel and refund (Partial if delivery started)", permissions=["operate"])
    def cancel_and_refund(self, request, queryset):
        self._each(request, queryset, "Canceled and refunded",
                   lambda pk, actor: order_operator_cancel(order_id=pk, actor=actor, created_by=request.user))

    @admin.action(description="Mark completed", permissions=["operate"])
    def mark_completed(self, request, queryset):
        self._each(request, queryset, "Marked completed",
                   lambda pk, actor: order_mark_completed(order_id=pk, actor=actor))

    @admin.action(description="Resend (clear hold and re-queue)", permissions=["operate"])
    def resend(self, request, queryset):
        self._each(request, queryset, "Resent", lambda pk, actor: order_resend(order_id=pk, actor=actor))

    @admin.action(description="Mark partial (asks the delivered amount)", permissions=["operate"])
    def mark_partial(self, request, queryset):
        form = DeliveredForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            delivered = form.cleaned_data["delivered"]
            self._each(request, queryset, "Marked partial",
                       lambda pk, actor: order_mark_partial(order_id=pk, delivered=delivered, actor=actor,
                                                            created_by=request.user))
            return None
        return TemplateResponse(
            request,
            "admin/action_form.html",
            {**self.admin_site.each_context(request), "title": "Mark partial", "form": form,
             "objects": queryset, "action": "mark_partial", "opts": self.model._meta},
        )

    @admin.action(description="Provider: found there (asks its order id)", permissions=["operate"])
    def forward_confirm(self, request, queryset):
        """A held order found at its provider: keep the provider's id; polling takes over."""
        from providers.forms import ProviderOrderIdForm
        from providers.forwarding import order_forward_confirm

        if queryset.count() != 1:
            self.message_user(request, "Select one order: each has its own provider order id.", messages.WARNING)
            return None
        form = ProviderOrderIdForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            upstream_id = form.cleaned_data["provider_order_id"]
            self._each(request, queryset, "Confirmed at the provider",
                       lambda pk, actor: order_forward_confirm(order_id=pk, provider_order_id=upstream_id, actor=actor))
            return None
        return TemplateResponse(
            request,
            "admin/action_form.html",
            {**self.admin_site.each_context(request), "title": "Found at the provider", "form": form,
             "objects": queryset, "action": "forward_confirm", "opts": self.model._meta},
        )

    @admin.action(description="Provider: not placed there (submit again)", permissions=["operate"])
    def forward_not_placed(self, request, queryset):
        from providers.forwarding import order_forward_not_placed

        self._each(request, queryset, "Not placed at the provider, to be submitted again",
                   lambda pk, actor: order_forward_not_placed(order_id=pk, actor=actor))


# Refills are part of their orders: whoever sees orders sees them (the roles grant no refill
# permission of their own, and a superuser's checks pass either way).
VIEW_REFILLS = "orders.view_order"


class RefillInline(ReadOnlyInline):
    model = Refill
    fields = ["created_at", "status", "quantity", "reason"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_REFILLS)


OrderAdmin.inlines = [*OrderAdmin.inlines, RefillInline]


@admin.register(Refill)
class RefillAdmin(ReadOnlyAdmin):
    """Refills are read here and ended only through the actions (the refill table in lifecycle)."""

    list_display = ["id", "status", "order_link", "account", "quantity", "reason", "created_at", "updated_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["account__user"]
    search_fields = ["=id", "=order__id", "account__user__username"]
    date_hierarchy = "created_at"
    actions = ["mark_completed", "reject"]

    @admin.display(description="Order", ordering="order_id")
    def order_link(self, refill: Refill) -> str:
        return format_html('<a href="../order/{}/change/">#{}</a>', refill.order_id, refill.order_id)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_REFILLS)

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_order")

    def _finish(self, request, queryset, status: str, reason: str) -> None:
        """End each selected refill on its own; report what was done and what the table refused."""
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        done, refused = 0, Counter()
        for pk in ids:
            try:
                done += refill_finish(refill_id=pk, status=status, reason=reason)
            except DomainError as exc:  # e.g. Pending cannot go straight to Completed
                refused[exc.message] += 1
        idle = len(ids) - done - refused.total()
        self.message_user(request, f"{status}: {done} refill(s); {idle} were not running.", messages.SUCCESS)
        for message, count in refused.items():
            self.message_user(request, f"Refused {count} refill(s): {message}", messages.WARNING)

    @admin.action(description="Mark completed", permissions=["operate"])
    def mark_completed(self, request, queryset):
        self._finish(request, queryset, RefillStatus.COMPLETED, "")

    @admin.action(description="Reject", permissions=["operate"])
    def reject(self, request, queryset):
        self._finish(request, queryset, RefillStatus.REJECTED, f"rejected by {request.user.get_username()}")
