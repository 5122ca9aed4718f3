"""The request log in the admin: read-only, searched by reseller, key prefix, address and outcome.

The filters offer fixed choices: the stock filter of a text column would read every distinct
value of a table that grows by every API call.
"""
from __future__ import annotations

from django.contrib import admin

from apilog.models import ApiRequest
from apilog.services import api_requests_flush
from orders.api.actions import ACTIONS
from smmpanel.admin_base import ReadOnlyAdmin

OK = "ok"
# The outcomes an operator looks for most; the search box finds any other.
COMMON_ERRORS = [
    "Invalid API key", "IP address not allowed for this key", "Too many requests", "Insufficient balance",
    "Invalid action", "Internal error",
]


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(OK, "ok"), ("error", "any error"), *[(message, message) for message in COMMON_ERRORS]]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "error":
            return queryset.exclude(outcome=OK)
        return queryset.filter(outcome=value)


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "api_action"

    def lookups(self, request, model_admin):
        return [(name, name) for name in ACTIONS] + [("", "(none)")]

    def queryset(self, request, queryset):
        return queryset if self.value() is None else queryset.filter(action=self.value())


@admin.register(ApiRequest)
class ApiRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "key_prefix", "action", "outcome", "client_ip", "order_ids",
                    "duration_ms"]
    list_filter = [ActionFilter, OutcomeFilter, "created_at"]
    list_select_related = ["account__user"]
    search_fields = ["account__user__username", "=key_prefix", "^client_ip", "outcome"]
    fields = list_display
    list_per_page = 100
    show_full_result_count = False  # no COUNT(*) of the whole log on every page

    def changelist_view(self, request, extra_context=None):
        # This process's pending rows first, so an operator checking a call just made finds it
        # (other web processes write theirs within API_LOG_FLUSH_SECONDS of their next call).
        api_requests_flush()
        return super().changelist_view(request, extra_context)
