"""`{% panel_dashboard as dash %}`: the admin index's dashboard, ready to print.

The figures come from `orders.dashboard` (a fixed handful of queries); this module only turns
them into text, links and the chart, so the template stays free of arithmetic.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.safestring import SafeString

from orders.dashboard import CHART_DAYS, STUCK_AFTER, Dashboard, dashboard_get
from orders.models import ACTIVE_STATUSES, HoldReason
from smmpanel.charts import bar_line_chart
from smmpanel.money import format_amount

register = template.Library()
TICK_EVERY = 7  # a date under every 7th bar, counting back from today


def money(amount: Decimal) -> str:
    """An amount as operators read it: `125.50 TRY`."""
    return f"{format_amount(amount)} {settings.PANEL_CURRENCY}"


def _changelist(**filters: str) -> str:
    return f"{reverse('admin:orders_order_changelist')}?{urlencode(filters)}"


def ago(seconds: int) -> str:
    """`12 s ago`, `5 min ago`, `3 h ago`: how old the last tick is, at a glance."""
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _chart(dash: Dashboard) -> SafeString:
    days: list[date] = [figures.day for figures in dash.days]
    last = len(days) - 1
    return bar_line_chart(
        title=f"Orders and revenue per day, last {CHART_DAYS} days ({dash.time_zone})",
        labels=[dateformat.format(day, "D j M Y") for day in days],
        tick_labels=[dateformat.format(day, "j M") if (last - n) % TICK_EVERY == 0 else "" for n, day in enumerate(days)],
        bars=[figures.orders for figures in dash.days],
        line=[figures.revenue for figures in dash.days],
        bar_name="Orders",
        line_name="Revenue",
        line_axis_title=f"Revenue, {settings.PANEL_CURRENCY}",
        format_line=money,
    )


# Holds that need an operator's hand outside the panel (a top-up, a look at the provider's
# orders): shown as alerts above everything else, with what to do.
ALERT_HOLDS = {
    HoldReason.PROVIDER_OUT_OF_FUNDS: "Top up our balance at the provider, then select them and Resend.",
    HoldReason.NEEDS_CHECKING: "The provider's answer to them was unclear, so they may or may not exist there: "
                               "check at the provider, then Resend or cancel them.",
}


def _alerts(dash: Dashboard) -> list[dict[str, Any]]:
    alerts = [
        {"text": f"{HoldReason(reason).label}: {count} order{'s' if count != 1 else ''} on hold. {ALERT_HOLDS[reason]}",
         "url": _changelist(hold_reason__exact=reason), "link": "Show them"}
        for reason, count in dash.counts.holds.items() if reason in ALERT_HOLDS and count
    ]
    for pk, name, failures, error in dash.failing_providers or []:
        alerts.append({"text": f"Provider {name} failed its last {failures} calls: {error}",
                       "url": reverse("admin:providers_provider_change", args=[pk]), "link": "Open the provider"})
    return alerts


def _profit(dash: Dashboard) -> list[dict[str, Any]]:
    return [
        {"label": p.label, "orders": p.orders, "revenue": format_amount(p.revenue), "cost": format_amount(p.cost),
         "margin": format_amount(p.margin), "negative": p.margin < 0, "uncosted": p.uncosted,
         "margin_percent": f"{p.margin * 100 / p.revenue:.1f} %" if p.revenue > 0 else "—"}
        for p in dash.profit or []
    ]


@register.simple_tag
def panel_dashboard() -> dict[str, Any]:
    """The dashboard as of now: windows, statuses, holds, top services, stuck orders, tick, chart."""
    now = timezone.now()
    dash = dashboard_get(now=now)
    counts = dash.counts
    holds = [
        {"label": HoldReason(reason).label, "count": n, "url": _changelist(hold_reason__exact=reason)}
        for reason, n in counts.holds.items()
    ]
    if counts.other_holds:
        holds.append({"label": "Other", "count": counts.other_holds, "url": None})
    tick = dash.last_tick
    return {
        "now": now,
        "time_zone": dash.time_zone,
        "currency": settings.PANEL_CURRENCY,
        "windows": [
            {"label": w.label, "orders": w.orders, "revenue": format_amount(w.revenue), "negative": w.revenue < 0}
            for w in dash.windows
        ],
        "statuses": [
            {"label": status, "count": n, "url": _changelist(status__exact=status)}
            for status, n in counts.by_status.items()
        ],
        "holds": holds,
        "holds_total": sum(h["count"] for h in holds),
        "top_services": [
            {"name": s.name, "orders": s.orders, "revenue": money(s.revenue), "service_id": s.service_id}
            for s in dash.top_services
        ],
        "stuck_count": counts.stuck,
        "stuck_minutes": int(STUCK_AFTER.total_seconds() // 60),
        "stuck_orders": [
            {
                "pk": o.pk,
                "status": o.status,
                "service": o.service_name,
                "since": o.stuck_since,
                "url": reverse("admin:orders_order_change", args=[o.pk]),
            }
            for o in dash.stuck_orders
        ],
        "last_tick": tick,
        "tick_age": None if tick is None else ago(max(0, int((now - tick.finished_at).total_seconds()))),
        # A missing or late tick matters only while there is work for it.
        "tick_warning": dash.tick_stale and any(counts.by_status[status] for status in ACTIVE_STATUSES),
        "chart": _chart(dash),
        "alerts": _alerts(dash),
        "profit": _profit(dash),
    }
