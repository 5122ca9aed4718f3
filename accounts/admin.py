from django.contrib import admin

from accounts.models import Account, ApiKey, LedgerEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that record money or secrets: visible, never edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # a key is shown once, so it is issued by `manage.py create_reseller`, not here


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["user", "balance", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "=id"]
    fields = ["user", "balance", "is_active", "created_at"]
    readonly_fields = ["user", "balance", "created_at"]
    inlines = [ApiKeyInline]

    def has_add_permission(self, request):
        return False  # created with its first key by `manage.py create_reseller`

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger points here: disable instead


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "account", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["account__user"]
    search_fields = ["prefix", "account__user__username"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "account", "kind", "amount", "balance_after", "order", "memo", "created_by"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["account__user", "created_by"]
    search_fields = ["account__user__username", "=order__id", "memo"]
    date_hierarchy = "created_at"
