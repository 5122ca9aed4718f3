"""Providers in the admin: add and edit them (the key entered once, shown masked), test them,
check our balance there, import and sync their services, read what sync changed.

Every button and action calls a service; the ones that call the provider run outside any
transaction (custom views and changelist actions: Django wraps neither in one).
"""
from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from providers.admin_import import ImportPage
from providers.catalog_sync import provider_catalog_sync
from providers.errors import ProviderError
from providers.models import Provider, ProviderService, ServiceSyncChange
from providers.pricing import panel_amount
from providers.services import provider_balance_refresh, provider_connection_test, provider_fields_clean, provider_save
from smmpanel.admin_base import ReadOnlyAdmin
from smmpanel.errors import DomainError
from smmpanel.money import format_amount


class ProviderForm(forms.ModelForm):
    api_url = forms.URLField(label="API URL", max_length=500, assume_scheme="https",
                             help_text=Provider._meta.get_field("api_url").help_text)
    # Not the model's `api_key`: a blank entry must keep the stored key, never overwrite it.
    new_api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Provider
        fields = ["name", "api_url", "is_active", "currency", "exchange_rate", "default_markup_percent",
                  "on_permanent_error"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        key = self.fields["new_api_key"]
        if self.instance.pk:
            key.label = "New API key"  # beside the masked one shown above it
            key.help_text = f"Now {self.instance.masked_key}. Leave blank to keep it; type a new one to replace it."
        else:
            key.required = True
            key.help_text = "Sent to the provider with every call; never shown again in full."
        self.fields["exchange_rate"].help_text = (
            f"{settings.PANEL_CURRENCY} per 1 unit of the provider's currency; leave blank for a provider in "
            f"{settings.PANEL_CURRENCY} (it is 1). Import refuses a provider in another currency until it is set."
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            provider_fields_clean(
                name=cleaned["name"], api_url=cleaned["api_url"],
                api_key=cleaned.get("new_api_key") or self.instance.api_key,
                currency=cleaned["currency"], exchange_rate=cleaned.get("exchange_rate"),
                default_markup_percent=cleaned["default_markup_percent"],
                on_permanent_error=cleaned["on_permanent_error"],
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        return cleaned


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    change_form_template = "admin/providers/provider/change_form.html"
    list_display = ["name", "is_active", "health", "balance_display", "services_count", "currency", "exchange_rate",
                    "default_markup_percent", "masked_key", "catalog_synced_at"]
    list_filter = ["is_active", "currency"]
    search_fields = ["name", "api_url"]
    actions = ["test_connection", "check_balance", "sync_catalog"]
    readonly_fields = ["masked_key", "health", "last_ok_at", "last_error", "last_error_at", "consecutive_failures",
                       "balance_display", "balance_checked_at", "catalog_synced_at", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "api_url", "new_api_key", "is_active"]}),
        ("Money", {"fields": ["currency", "exchange_rate", "default_markup_percent", "on_permanent_error"]}),
        ("Health and balance", {"fields": ["health", "last_ok_at", "last_error", "last_error_at",
                                           "consecutive_failures", "balance_display", "balance_checked_at",
                                           "catalog_synced_at", "created_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # nothing to show about a provider not saved yet
            return fieldsets[:2]
        return [(None, {"fields": ["name", "api_url", "masked_key", "new_api_key", "is_active"]}), *fieldsets[1:]]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(services_total=Count("services"))

    @admin.display(description="API key")
    def masked_key(self, provider: Provider) -> str:
        return provider.masked_key

    @admin.display(description="Health")
    def health(self, provider: Provider) -> str:
        if provider.consecutive_failures:
            return format_html('<span title="{}" style="color: var(--error-fg)">failing ×{}: {}</span>',
                               provider.last_error, provider.consecutive_failures, provider.last_error[:80])
        if provider.last_ok_at:
            return "ok"
        return "not called yet"

    @admin.display(description="Balance", ordering="balance")
    def balance_display(self, provider: Provider) -> str:
        if provider.balance is None:
            return "—"
        return f"{format_amount(provider.balance)} {provider.balance_currency}"

    @admin.display(description="Services", ordering="services_total")
    def services_count(self, provider: Provider) -> str:
        url = f"{reverse('admin:catalog_service_changelist')}?provider__id__exact={provider.pk}"
        return format_html('<a href="{}">{}</a>', url, provider.services_total)

    def save_model(self, request, obj, form, change):
        provider_save(provider=obj, new_api_key=form.cleaned_data.get("new_api_key") or "")

    def has_delete_permission(self, request, obj=None):
        return False  # services and orders point here: make it inactive instead

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("providers.change_provider")

    # --- calling the provider: buttons on its page, actions on the list -----------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/test-connection/", view(self.test_connection_view), name="providers_provider_test"),
            path("<int:pk>/check-balance/", view(self.check_balance_view), name="providers_provider_balance"),
            path("<int:pk>/sync/", view(self.sync_view), name="providers_provider_sync"),
            path("<int:pk>/import/", view(ImportPage(self).view), name="providers_provider_import"),
            *super().get_urls(),
        ]

    def _button(self, request: HttpRequest, pk: int, call: Callable[[Provider], str]) -> HttpResponseRedirect:
        if request.method != "POST" or not self.has_operate_permission(request):
            raise PermissionDenied
        provider = get_object_or_404(Provider, pk=pk)
        self._call(request, provider, call)
        return HttpResponseRedirect(reverse("admin:providers_provider_change", args=[pk]))

    def _call(self, request: HttpRequest, provider: Provider, call: Callable[[Provider], str]) -> None:
        try:
            self.message_user(request, f"{provider.name}: {call(provider)}", messages.SUCCESS)
        except ProviderError as exc:  # its message names the provider already
            self.message_user(request, exc.message, messages.ERROR)
        except DomainError as exc:
            self.message_user(request, f"{provider.name}: {exc.message}", messages.ERROR)

    def test_connection_view(self, request, pk: int):
        return self._button(request, pk, _test_connection)

    def check_balance_view(self, request, pk: int):
        return self._button(request, pk, _check_balance)

    def sync_view(self, request, pk: int):
        return self._button(request, pk, _sync)

    def _each(self, request, queryset, call: Callable[[Provider], str]) -> None:
        for provider in queryset.order_by("pk"):
            self._call(request, provider, call)

    @admin.action(description="Test connection", permissions=["operate"])
    def test_connection(self, request, queryset):
        self._each(request, queryset, _test_connection)

    @admin.action(description="Check balance", permissions=["operate"])
    def check_balance(self, request, queryset):
        self._each(request, queryset, _check_balance)

    @admin.action(description="Sync catalog now", permissions=["operate"])
    def sync_catalog(self, request, queryset):
        self._each(request, queryset, _sync)


def _test_connection(provider: Provider) -> str:
    report = provider_connection_test(provider_id=provider.pk)
    return (f"connected: key accepted, balance {format_amount(report.balance.amount)} "
            f"{report.balance.currency or provider.currency}, {report.services} services listed.")


def _check_balance(provider: Provider) -> str:
    balance = provider_balance_refresh(provider_id=provider.pk)
    currency = balance.currency or provider.currency
    text = f"balance {format_amount(balance.amount)} {currency}"
    rate = provider.panel_exchange_rate
    if currency != settings.PANEL_CURRENCY and rate is not None and currency == provider.currency:
        text += f" (≈ {format_amount(panel_amount(amount=balance.amount, exchange_rate=rate))} {settings.PANEL_CURRENCY})"
    return text + "."


def _sync(provider: Provider) -> str:
    report = provider_catalog_sync(provider_id=provider.pk)
    text = (f"catalog synced: {report.listed} listed upstream; {report.updated} updated, {report.repriced} repriced, "
            f"{report.paused} paused, {report.unpaused} un-paused.")
    return text + "".join(f" Note: {note}." for note in report.notes)


@admin.register(ServiceSyncChange)
class ServiceSyncChangeAdmin(ReadOnlyAdmin):
    """What import and sync did to our services, newest first."""

    list_display = ["created_at", "provider", "service_link", "kind", "detail"]
    list_filter = ["kind", "provider", "created_at"]
    list_select_related = ["provider", "service"]
    search_fields = ["=service__id", "service__name", "detail"]
    date_hierarchy = "created_at"

    @admin.display(description="Service", ordering="service_id")
    def service_link(self, change: ServiceSyncChange) -> str:
        url = reverse("admin:catalog_service_change", args=[change.service_id])
        return format_html('<a href="{}">{}</a>', url, change.service)


@admin.register(ProviderService)
class ProviderServiceAdmin(ReadOnlyAdmin):
    """Each provider's catalog as last fetched (import and sync refresh it)."""

    list_display = ["upstream_id", "provider", "name", "category", "type", "rate", "min_quantity", "max_quantity",
                    "is_listed", "last_seen_at"]
    list_filter = ["is_listed", "provider", "type"]
    list_select_related = ["provider"]
    search_fields = ["=upstream_id", "name", "category"]

