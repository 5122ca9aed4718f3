from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import allowlist
from accounts.admin_forms import AdjustForm, FundsForm, ResellerCreateForm
from accounts.models import Account, ApiKey, LedgerEntry
from accounts.services import (
    account_adjust,
    account_deduct,
    account_deposit,
    account_set_active,
    apikey_issue,
    apikey_revoke,
    apikey_set_allowed_ips,
    reseller_create,
)
from catalog.models import CustomRate
from smmpanel.admin_base import ReadOnlyAdmin, ReadOnlyInline
from smmpanel.errors import DomainError
from smmpanel.money import format_amount

MOVE_MONEY = "accounts.move_money"
MANAGE_KEYS = "accounts.manage_keys"

# operation → (title, form, service); each service writes one ledger entry that records the operator.
FUNDS_OPERATIONS = {
    "add": ("Add funds", FundsForm, account_deposit),
    "deduct": ("Deduct funds", FundsForm, account_deduct),
    "adjust": ("Adjust balance", AdjustForm, account_adjust),
}


def allow_list_text(api_key: ApiKey) -> str:
    return ", ".join(api_key.allowed_ips.split()) or "any"


class ApiKeyInline(ReadOnlyInline):
    # Keys are issued by the "Issue new API key" button, which shows the key once; the allow-list
    # is edited on the key's own page (the change link).
    model = ApiKey
    fields = ["prefix", "label", "allowed_addresses", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
    show_change_link = True

    @admin.display(description="Allowed addresses")
    def allowed_addresses(self, api_key: ApiKey) -> str:
        return allow_list_text(api_key)


class CustomRateInline(admin.TabularInline):
    """This reseller's own prices; `services` and `add` use them instead of the catalog rate."""

    model = CustomRate
    fields = ["service", "rate", "updated_at"]
    readonly_fields = ["updated_at"]
    autocomplete_fields = ["service"]
    extra = 0
    verbose_name_plural = "own prices"

    # An own price is what a reseller pays: seen by whoever sees the reseller, set by whoever moves
    # its money (Finance) or edits the catalog. The roles grant no CustomRate permission of their own.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("accounts.view_account") or super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(MOVE_MONEY) or super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(MOVE_MONEY) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(MOVE_MONEY) or super().has_delete_permission(request, obj)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["user", "balance_display", "is_active", "active_keys", "created_at"]
    list_filter = ["is_active", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "=id"]
    fields = ["user", "balance_display", "is_active", "created_at"]
    readonly_fields = ["user", "balance_display", "created_at"]
    inlines = [ApiKeyInline, CustomRateInline]
    actions = ["disable", "enable"]
    change_form_template = "admin/accounts/account/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            active_key_count=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True))
        )

    @admin.display(description="Balance", ordering="balance")
    def balance_display(self, account: Account) -> str:
        return format_amount(account.balance)

    @admin.display(description="Active keys", ordering="active_key_count")
    def active_keys(self, account: Account) -> int:
        return account.active_key_count

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger points here: disable instead

    def has_change_permission(self, request, obj=None):
        # Finance saves this page for the own prices inline; the account's own fields stay
        # read-only to it (get_readonly_fields) and the enable/disable actions are not offered.
        return self.has_account_change_permission(request) or request.user.has_perm(MOVE_MONEY)

    def has_account_change_permission(self, request) -> bool:
        return super().has_change_permission(request)

    def get_readonly_fields(self, request, obj=None):
        if self.has_account_change_permission(request):
            return self.readonly_fields
        return [*self.readonly_fields, "is_active"]

    def save_model(self, request, obj, form, change):
        # Only the active flag is editable here; balance moves through the funds forms.
        account_set_active(account=obj, active=obj.is_active)

    @admin.action(description="Disable selected accounts (their keys stop working)", permissions=["account_change"])
    def disable(self, request, queryset):
        changed = sum(account_set_active(account=account, active=False) for account in queryset)
        self.message_user(request, f"Disabled {changed} account(s).", messages.SUCCESS)

    @admin.action(description="Enable selected accounts", permissions=["account_change"])
    def enable(self, request, queryset):
        changed = sum(account_set_active(account=account, active=True) for account in queryset)
        self.message_user(request, f"Enabled {changed} account(s).", messages.SUCCESS)

    # --- extra pages: a reseller in one form, money moves, new keys ---------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/funds/<str:operation>/", view(self.funds_view), name="accounts_account_funds"),
            path("<int:pk>/new-key/", view(self.new_key_view), name="accounts_account_new_key"),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, template: str, title: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request, template, {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context}
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ResellerCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                account, key = reseller_create(
                    username=form.cleaned_data["username"],
                    balance=form.cleaned_data["opening_balance"] or 0,
                    created_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return self._page(request, "admin/accounts/account/key_issued.html", "API key issued",
                                  account=account, key=key)
        return self._page(request, "admin/accounts/account/operator_form.html", "Add reseller", form=form)

    def has_add_permission(self, request):
        # Creating a reseller issues its key and may post an opening deposit.
        return super().has_add_permission(request) and request.user.has_perms([MOVE_MONEY, MANAGE_KEYS])

    def funds_view(self, request, pk: int, operation: str):
        if operation not in FUNDS_OPERATIONS:
            raise PermissionDenied
        if not request.user.has_perm(MOVE_MONEY):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("user"), pk=pk)
        title, form_class, service = FUNDS_OPERATIONS[operation]
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = service(account=account, amount=form.cleaned_data["amount"],
                                memo=form.cleaned_data["memo"], created_by=request.user)
            except DomainError as exc:
                form.add_error("amount", exc.message)
            else:
                self.message_user(
                    request,
                    f"{title}: {format_amount(entry.amount)} — balance of {account} is now "
                    f"{format_amount(entry.balance_after)}.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:accounts_account_change", args=[account.pk]))
        return self._page(request, "admin/accounts/account/operator_form.html", f"{title}: {account}",
                          form=form, account=account)

    def new_key_view(self, request, pk: int):
        if not request.user.has_perm(MANAGE_KEYS):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("user"), pk=pk)
        if request.method != "POST":
            return self._page(request, "admin/accounts/account/operator_form.html", f"Issue a new API key: {account}",
                              account=account, confirm="Issue the key")
        _, key = apikey_issue(account=account, label=f"issued by {request.user.get_username()}")
        return self._page(request, "admin/accounts/account/key_issued.html", "API key issued", account=account, key=key)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["allowed_ips"]
        widgets = {"allowed_ips": forms.Textarea(attrs={"rows": 4, "cols": 50})}

    def clean_allowed_ips(self):
        try:
            return allowlist.canonical(self.cleaned_data["allowed_ips"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Keys are shown, revoked (action) and given an IP allow-list here; the key itself is never
    stored, so nothing else about a key can change."""

    list_display = ["prefix", "account", "label", "allowed_addresses", "created_at", "last_used_at", "last_used_ip",
                    "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["account__user"]
    search_fields = ["prefix", "account__user__username"]
    actions = ["revoke"]
    form = ApiKeyForm
    fields = ["prefix", "account", "label", "allowed_ips", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
    readonly_fields = ["prefix", "account", "label", "created_at", "last_used_at", "last_used_ip", "revoked_at"]

    @admin.display(description="Allowed addresses")
    def allowed_addresses(self, api_key: ApiKey) -> str:
        return allow_list_text(api_key)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_KEYS)

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return self.fields

    def save_model(self, request, obj, form, change):
        # Only the allow-list is editable, and only through the service (canonical, validated).
        apikey_set_allowed_ips(api_key=obj, allowed_ips=form.cleaned_data["allowed_ips"])

    @admin.action(description="Revoke selected keys (they stop working at once)", permissions=["revoke"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            apikey_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm(MANAGE_KEYS)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "account", "kind", "amount", "balance_after", "order_link", "memo", "created_by"]
    list_filter = ["kind", "created_at", ("created_by", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["account__user", "created_by"]
    search_fields = ["account__user__username", "=order__id", "memo"]
    date_hierarchy = "created_at"
    change_list_template = "admin/accounts/ledgerentry/change_list.html"

    @admin.display(description="Order", ordering="order_id")
    def order_link(self, entry: LedgerEntry) -> str:
        if entry.order_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:orders_order_change", args=[entry.order_id]),
                           entry.order_id)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            # Totals of everything the filters select, not just the page shown.
            totals = changelist.queryset.order_by().values("kind").annotate(total=Sum("amount"), n=Count("pk"))
            response.context_data["ledger_totals"] = [
                {"kind": row["kind"], "count": row["n"], "total": format_amount(row["total"])} for row in totals
            ]
            response.context_data["ledger_sum"] = format_amount(sum(row["total"] for row in totals) or 0)
        return response
