"""Read queries for the admin dashboard: money and orders over recent days, and what needs an operator.

Every figure is an aggregate computed by the database, so the dashboard costs the same few
queries (see `dashboard_get`) whether the panel has ten orders or a million. Days are the
panel's local days (`TIME_ZONE`): "today" starts at local midnight.

Revenue is what the panel kept: charges minus refunds posted in the window, i.e. the negated
sum of `charge` (negative) and `refund` (positive) ledger amounts. A refund posted today for an
order placed last month lowers today's revenue. Deposits and adjustments are not revenue.

Profit (`dashboard_profit`) is counted per order instead, over the orders *placed* in the window:
their revenue (charge minus its refund, whenever posted), their cost (what the provider charged,
`Order.cost`, filled by forwarding; simulated orders cost nothing) and the margin between them.
Per order, because a cost belongs to an order: an order placed last month and canceled upstream
today would otherwise show last month's revenue against no cost, and today's refund against none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, F, FilteredRelation, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate

from accounts.models import LedgerEntry, LedgerKind
from orders.models import FulfillmentTick, HoldReason, Order, OrderStatus
from providers.models import Provider
from smmpanel.money import ZERO, to_amount

CHART_DAYS = 30
WINDOWS = (("Today", 1), ("7 days", 7), ("30 days", 30))
STUCK_AFTER = timedelta(minutes=10)
TOP_SERVICES = 5
STUCK_SHOWN = 5
REVENUE_KINDS = (LedgerKind.CHARGE, LedgerKind.REFUND)
FAILING_CALLS = 3  # a provider failing this many calls in a row is shown as an alert


@dataclass(frozen=True)
class DayFigures:
    day: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class WindowFigures:
    label: str
    days: int
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class ProfitFigures:
    """The orders placed in a window: what they brought, what they cost upstream, the margin."""

    label: str
    orders: int
    revenue: Decimal  # charges minus refunds of these orders
    cost: Decimal  # the providers' charges for them (0 for simulated orders)
    margin: Decimal
    uncosted: int  # provider orders, not canceled, without a cost yet: the margin is too high by theirs


@dataclass(frozen=True)
class ServiceFigures:
    service_id: int
    name: str
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class StuckOrder:
    pk: int
    status: str
    service_name: str
    stuck_since: datetime


@dataclass(frozen=True)
class OrderCounts:
    by_status: dict[str, int]
    holds: dict[str, int]
    other_holds: int
    stuck: int


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    time_zone: str
    days: list[DayFigures]
    windows: list[WindowFigures]
    counts: OrderCounts
    top_services: list[ServiceFigures]
    stuck_orders: list[StuckOrder]
    last_tick: FulfillmentTick | None
    tick_stale: bool = False
    profit: list[ProfitFigures] | None = None
    failing_providers: list[tuple[int, str, int, str]] | None = None


def panel_zone() -> ZoneInfo:
    """The panel's time zone, in which days start and end."""
    return ZoneInfo(settings.TIME_ZONE)


def local_days(*, now: datetime, days: int = CHART_DAYS) -> list[date]:
    """The last `days` local dates, oldest first, today last."""
    today = now.astimezone(panel_zone()).date()
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def local_midnight(*, day: date) -> datetime:
    """The aware instant a local day begins (zoneinfo takes care of DST shifts)."""
    return datetime.combine(day, time.min, tzinfo=panel_zone())


def _day_range(*, now: datetime, days: int) -> tuple[list[date], datetime, datetime]:
    dates = local_days(now=now, days=days)
    return dates, local_midnight(day=dates[0]), local_midnight(day=dates[-1] + timedelta(days=1))


def dashboard_daily(*, now: datetime, days: int = CHART_DAYS) -> list[DayFigures]:
    """Orders placed and revenue kept per local day, every day present (zeros included); two queries."""
    dates, start, end = _day_range(now=now, days=days)
    zone = panel_zone()
    orders_per_day = dict(
        Order.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    ledger_per_day = dict(
        LedgerEntry.objects.filter(kind__in=REVENUE_KINDS, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return [
        DayFigures(day=day, orders=orders_per_day.get(day, 0), revenue=to_amount(-(ledger_per_day.get(day) or ZERO)))
        for day in dates
    ]


def dashboard_windows(*, daily: list[DayFigures]) -> list[WindowFigures]:
    """Today / 7 / 30 days, summed from the per-day figures (the last day is today); no query."""
    windows = []
    for label, days in WINDOWS:
        recent = daily[-days:]
        windows.append(
            WindowFigures(
                label=label,
                days=days,
                orders=sum(d.orders for d in recent),
                revenue=to_amount(sum((d.revenue for d in recent), ZERO)),
            )
        )
    return windows


def orders_with_refund(orders: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders with their refund's ledger row joined (at most one per order: a unique index), so
    revenue per order is `charge − refund_entry.amount` without a query per order."""
    return (Order.objects.all() if orders is None else orders).annotate(
        refund_entry=FilteredRelation("ledger_entries", condition=Q(ledger_entries__kind=LedgerKind.REFUND))
    )


def dashboard_profit(*, now: datetime) -> list[ProfitFigures]:
    """Revenue, cost and margin of the orders placed today / in 7 / in 30 local days; one query."""
    dates = local_days(now=now, days=max(days for _, days in WINDOWS))
    aggregates = {}
    for n, (_, days) in enumerate(WINDOWS):
        placed = Q(created_at__gte=local_midnight(day=dates[-days]))
        aggregates |= {
            f"orders_{n}": Count("pk", filter=placed),
            f"charge_{n}": Sum("charge", filter=placed),
            f"refund_{n}": Sum("refund_entry__amount", filter=placed),
            f"cost_{n}": Sum("cost", filter=placed),
            f"uncosted_{n}": Count("pk", filter=placed & Q(provider__isnull=False, cost__isnull=True)
                                   & ~Q(status=OrderStatus.CANCELED)),
        }
    row = orders_with_refund().filter(created_at__gte=local_midnight(day=dates[0])).aggregate(**aggregates)
    figures = []
    for n, (label, _) in enumerate(WINDOWS):
        revenue = to_amount((row[f"charge_{n}"] or ZERO) - (row[f"refund_{n}"] or ZERO))
        cost = to_amount(row[f"cost_{n}"] or ZERO)
        figures.append(ProfitFigures(label=label, orders=row[f"orders_{n}"], revenue=revenue, cost=cost,
                                     margin=revenue - cost, uncosted=row[f"uncosted_{n}"]))
    return figures


def _stuck_q(*, now: datetime) -> Q:
    """Active, not on hold, due, and not advanced for STUCK_AFTER.

    What "not advanced" means follows the engine: the tick re-sends lost wake-ups of Pending
    orders and touches their `updated_at` each time, so a Pending order is stuck once it was
    *placed* that long ago; a Processing order once it has been *due* (`deliver_from`) that long
    without a move; an In progress order once no tick has touched it (`updated_at`) for that long,
    since every tick rewrites every In progress order's `remains` and `updated_at`.
    """
    cutoff = now - STUCK_AFTER
    return Q(hold_reason="") & (
        Q(status=OrderStatus.PENDING, created_at__lte=cutoff)
        | Q(status=OrderStatus.PROCESSING, deliver_from__lte=cutoff, updated_at__lte=cutoff)
        | Q(status=OrderStatus.IN_PROGRESS, updated_at__lte=cutoff)
    )


def dashboard_order_counts(*, now: datetime) -> OrderCounts:
    """Orders per status (all six), on hold per reason, and stuck: one aggregate query."""
    statuses = list(OrderStatus.values)
    reasons = [reason for reason in HoldReason.values if reason]
    aggregates = {f"status_{n}": Count("pk", filter=Q(status=status)) for n, status in enumerate(statuses)}
    aggregates |= {f"hold_{n}": Count("pk", filter=Q(hold_reason=reason)) for n, reason in enumerate(reasons)}
    # Hold reasons written by code newer than this list still show up, as "other".
    aggregates["other_holds"] = Count("pk", filter=~Q(hold_reason="") & ~Q(hold_reason__in=reasons))
    aggregates["stuck"] = Count("pk", filter=_stuck_q(now=now))
    row = Order.objects.aggregate(**aggregates)
    return OrderCounts(
        by_status={status: row[f"status_{n}"] for n, status in enumerate(statuses)},
        holds={reason: row[f"hold_{n}"] for n, reason in enumerate(reasons)},
        other_holds=row["other_holds"],
        stuck=row["stuck"],
    )


def dashboard_stuck_orders(*, now: datetime, limit: int = STUCK_SHOWN) -> list[StuckOrder]:
    """The `limit` orders stuck longest (see `_stuck_q`), longest first; one query."""
    rows = (
        Order.objects.filter(_stuck_q(now=now))
        .annotate(
            stuck_since=Case(
                When(status=OrderStatus.PENDING, then=F("created_at")),
                When(status=OrderStatus.PROCESSING, then=F("deliver_from")),
                default=F("updated_at"),
            )
        )
        .order_by("stuck_since", "pk")
        .values_list("pk", "status", "service__name", "stuck_since")[:limit]
    )
    return [StuckOrder(pk=pk, status=status, service_name=name, stuck_since=since) for pk, status, name, since in rows]


def dashboard_top_services(*, now: datetime, days: int = CHART_DAYS, limit: int = TOP_SERVICES) -> list[ServiceFigures]:
    """Services that brought the most revenue over the last `days` local days; one query.

    `orders` counts the charges posted in the window (one per order placed), `revenue` is
    charges minus refunds posted in the window, as everywhere on the dashboard.
    """
    _, start, end = _day_range(now=now, days=days)
    rows = (
        LedgerEntry.objects.filter(
            kind__in=REVENUE_KINDS, created_at__gte=start, created_at__lt=end, order__isnull=False
        )
        .values_list("order__service_id", "order__service__name")
        .annotate(orders=Count("pk", filter=Q(kind=LedgerKind.CHARGE)), revenue=-Sum("amount"))
        .order_by("-revenue", "order__service_id")[:limit]
    )
    return [
        ServiceFigures(service_id=service_id, name=name, orders=orders, revenue=to_amount(revenue))
        for service_id, name, orders, revenue in rows
    ]


def dashboard_failing_providers() -> list[tuple[int, str, int, str]]:
    """Active providers whose last FAILING_CALLS calls or more failed: (id, name, failures, last
    error); one query."""
    return list(
        Provider.objects.filter(is_active=True, consecutive_failures__gte=FAILING_CALLS)
        .order_by("-consecutive_failures", "pk").values_list("pk", "name", "consecutive_failures", "last_error")
    )


def dashboard_last_tick() -> FulfillmentTick | None:
    """The last fulfillment tick the engine recorded, if any; one query."""
    return FulfillmentTick.objects.order_by("-finished_at").first()


def dashboard_get(*, now: datetime) -> Dashboard:
    """Everything the admin dashboard shows, in eight queries whatever the amount of data."""
    daily = dashboard_daily(now=now)
    counts = dashboard_order_counts(now=now)
    last_tick = dashboard_last_tick()
    stale_after = timedelta(seconds=3 * settings.FULFILLMENT_TICK_SECONDS)
    return Dashboard(
        now=now,
        time_zone=settings.TIME_ZONE,
        days=daily,
        windows=dashboard_windows(daily=daily),
        counts=counts,
        top_services=dashboard_top_services(now=now),
        stuck_orders=dashboard_stuck_orders(now=now),
        last_tick=last_tick,
        tick_stale=last_tick is None or now - last_tick.finished_at > stale_after,
        profit=dashboard_profit(now=now),
        failing_providers=dashboard_failing_providers(),
    )
