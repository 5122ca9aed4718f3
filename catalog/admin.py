from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from catalog.models import Category, CustomRate, PriceChange, Service
from catalog.services import service_save, services_reprice, services_set_active
from providers.catalog_sync import service_rate_follow
from providers.models import ServiceSyncChange
from smmpanel.admin_base import ReadOnlyAdmin, ReadOnlyInline
from smmpanel.errors import DomainError


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "sort_order"]
    list_editable = ["sort_order"]
    list_filter = ["platform"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None):
        return False  # services (and through them orders) point here


class PriceChangeInline(ReadOnlyInline):
    model = PriceChange
    fields = ["changed_at", "old_rate", "new_rate", "changed_by", "note"]
    verbose_name_plural = "price history"


class SyncChangeInline(ReadOnlyInline):
    """What import and sync did to a provider-backed service."""

    model = ServiceSyncChange
    fields = ["created_at", "kind", "detail"]
    verbose_name_plural = "changes from the provider"

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("catalog.view_service") or super().has_view_permission(request, obj)


class CustomRateInline(admin.TabularInline):
    """Resellers with their own price for this service."""

    model = CustomRate
    fields = ["account", "rate", "updated_at"]
    readonly_fields = ["updated_at"]
    raw_id_fields = ["account"]
    extra = 0

    def has_view_permission(self, request, obj=None):
        # Whoever sees the catalog sees who pays what (the roles grant no CustomRate permission).
        return request.user.has_perm("catalog.view_service") or super().has_view_permission(request, obj)


class RepriceForm(forms.Form):
    percent = forms.DecimalField(
        max_digits=7, decimal_places=2, min_value=Decimal(-99), max_value=Decimal(1000),
        help_text="E.g. 10 raises the selected rates by 10 %, -5 lowers them by 5 %.",
    )


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "category", "type", "rate", "min_quantity", "max_quantity", "is_active"]
    list_editable = ["rate", "min_quantity", "max_quantity", "is_active"]
    list_filter = ["is_active", "category__platform", "category", "type", "provider", "rate_is_manual",
                   "paused_by_sync"]
    list_select_related = ["category"]
    search_fields = ["name", "=id"]
    autocomplete_fields = ["category"]
    inlines = [CustomRateInline, PriceChangeInline, SyncChangeInline]
    actions = ["enable", "disable", "reprice"]
    fieldsets = [
        (None, {"fields": ["category", "name", "type", "description", "sort_order", "is_active"]}),
        ("Price and quantity", {"fields": ["rate", "min_quantity", "max_quantity"]}),
        ("What resellers may do", {"fields": ["refill", "cancel", "dripfeed"]}),
        ("Simulated fulfillment", {"fields": ["start_delay_seconds", "speed_per_minute", "shortfall_percent"]}),
        ("Upstream provider", {
            "fields": ["provider", "provider_service_id", "provider_rate", "markup_percent", "rate_is_manual",
                       "paused_by_sync"],
            "description": "Set by import. Our rate follows the provider's rate × exchange rate × markup at "
                           "every sync, unless it was set by hand here (untick \"rate is manual\" to hand it back).",
        }),
    ]
    readonly_fields = ["provider", "provider_service_id", "provider_rate", "paused_by_sync"]

    def save_model(self, request, obj, form, change):
        service_save(service=obj, actor=request.user, note="edited in admin")
        # A new markup, or a price handed back to sync, applies at once (from the stored provider rate).
        if obj.provider_id and "rate" not in form.changed_data and (
            {"markup_percent", "rate_is_manual"} & set(form.changed_data)
        ):
            service_rate_follow(service_id=obj.pk, actor=request.user, note="edited in admin")

    def has_delete_permission(self, request, obj=None):
        return False  # orders (and through them the ledger) point here: disable instead

    @admin.action(description="Enable selected services", permissions=["change"])
    def enable(self, request, queryset):
        changed = services_set_active(service_ids=queryset.values_list("pk", flat=True), active=True)
        self.message_user(request, f"Enabled {changed} service(s).", messages.SUCCESS)

    @admin.action(description="Disable selected services", permissions=["change"])
    def disable(self, request, queryset):
        changed = services_set_active(service_ids=queryset.values_list("pk", flat=True), active=False)
        self.message_user(request, f"Disabled {changed} service(s).", messages.SUCCESS)

    @admin.action(description="Change price of selected services by a percentage", permissions=["change"])
    def reprice(self, request, queryset):
        form = RepriceForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                changed = services_reprice(
                    service_ids=queryset.values_list("pk", flat=True), percent=form.cleaned_data["percent"],
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            self.message_user(request, f"Changed the rate of {changed} service(s).", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": "Change price by a percentage",
                "form": form,
                "objects": queryset,
                "action": "reprice",
                "opts": self.model._meta,
            },
        )


@admin.register(PriceChange)
class PriceChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "service", "old_rate", "new_rate", "changed_by", "note"]
    list_filter = ["changed_at"]
    list_select_related = ["service", "changed_by"]
    search_fields = ["service__name", "=service__id"]
