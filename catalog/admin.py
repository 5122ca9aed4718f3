from django.contrib import admin

from catalog.models import Category, Service


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "sort_order"]
    list_editable = ["sort_order"]
    list_filter = ["platform"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "category", "type", "rate", "min_quantity", "max_quantity", "is_active"]
    list_editable = ["rate", "min_quantity", "max_quantity", "is_active"]
    list_filter = ["is_active", "type", "category__platform", "category"]
    list_select_related = ["category"]
    search_fields = ["name", "=id"]
    autocomplete_fields = ["category"]

    def has_delete_permission(self, request, obj=None):
        return False  # orders (and through them the ledger) point here: disable instead
