from django.contrib import admin

from orders.models import Order, OrderEvent


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ["created_at", "old_status", "new_status", "reason", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are read here; status and money move only through orders.services."""

    list_display = [
        "id", "status", "hold_reason", "service", "account", "link", "quantity", "charge",
        "start_count", "remains", "created_at",
    ]
    list_filter = ["status", "hold_reason", "created_at"]
    list_select_related = ["service", "account__user"]
    search_fields = ["=id", "link", "link_normalized"]
    date_hierarchy = "created_at"
    inlines = [OrderEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only view; operator actions arrive with the admin work

    def has_delete_permission(self, request, obj=None):
        return False
