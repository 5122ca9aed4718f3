"""The admin dashboard: figures on crafted data, the chart's SVG, the index page and its query count."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import reseller_with_key
from catalog.tests.factories import ServiceFactory
from orders.dashboard import (
    dashboard_daily,
    dashboard_get,
    dashboard_order_counts,
    dashboard_stuck_orders,
    dashboard_top_services,
    dashboard_windows,
    local_midnight,
)
from orders.models import FulfillmentTick, HoldReason, Order, OrderStatus
from orders.services import order_cancel, order_place
from orders.templatetags.dashboard import panel_dashboard
from smmpanel.charts import bar_line_chart

SVG = "{http://www.w3.org/2000/svg}"
ISTANBUL = ZoneInfo("Europe/Istanbul")  # UTC+3 all year: local midnight is 21:00 UTC
NOW = datetime(2025, 3, 15, 10, 0, tzinfo=ISTANBUL)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _istanbul(settings):
    settings.TIME_ZONE = "Europe/Istanbul"
    settings.PANEL_CURRENCY = "TRY"


@contextmanager
def clock(at: datetime):
    """Rows created inside get `at` as their auto_now(_add) times (the ledger refuses UPDATEs)."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ISTANBUL)


def place(account, service, *, at: datetime, quantity: int = 1000, link: str | None = None) -> Order:
    with clock(at):
        return order_place(
            account=account,
            fields={"service": service.pk, "link": link or f"https://instagram.com/u{at.timestamp():.0f}", "quantity": quantity},
            actor="test",
        )


def cancel(account, order: Order, *, at: datetime) -> None:
    with clock(at):
        order_cancel(account=account, order_id=order.pk, actor="test")


@pytest.fixture
def account():
    with clock(local(2025, 1, 1, 12, 0)):
        return reseller_with_key("dash", Decimal("10000"))


def test_windows_and_days_follow_the_panel_time_zone(account):
    service = ServiceFactory(rate=Decimal("10"))  # 1000 units cost 10.00
    with clock(NOW - timedelta(hours=1)):
        reseller_with_key("deposit-today", Decimal("500"))  # a deposit today: not revenue
    place(account, service, at=local(2025, 3, 15, 0, 30))  # today (21:30 UTC on the 14th)
    yesterday = place(account, service, at=local(2025, 3, 14, 23, 30), quantity=2000)  # yesterday, same UTC date
    cancel(account, yesterday, at=local(2025, 3, 15, 9, 0))  # its refund lands today
    place(account, service, at=local(2025, 3, 7, 12, 0), quantity=4000)  # 8 days ago: in 30, not in 7
    place(account, service, at=local(2025, 2, 14, 0, 0, 30), quantity=3000)  # first minute of the 30-day window
    place(account, service, at=local(2025, 2, 13, 23, 59), quantity=5000)  # a minute before it: outside

    daily = dashboard_daily(now=NOW)
    assert len(daily) == 30
    assert [d.day.isoformat() for d in (daily[0], daily[-2], daily[-1])] == ["2025-02-14", "2025-03-14", "2025-03-15"]
    assert (daily[-1].orders, daily[-1].revenue) == (1, Decimal("-10.00000"))  # 10 charged − 20 refunded
    assert (daily[-2].orders, daily[-2].revenue) == (1, Decimal("20.00000"))
    assert (daily[0].orders, daily[0].revenue) == (1, Decimal("30.00000"))
    assert sum(1 for d in daily if d.orders == 0 and d.revenue == 0) == 26  # empty days are present, as zeros

    windows = {w.label: (w.orders, w.revenue) for w in dashboard_windows(daily=daily)}
    assert windows == {
        "Today": (1, Decimal("-10.00000")),
        "7 days": (2, Decimal("10.00000")),
        "30 days": (4, Decimal("80.00000")),
    }


def test_a_day_with_a_clock_change_is_one_local_day(settings, account):
    settings.TIME_ZONE = "Europe/Berlin"  # 30 March 2025 has 23 hours there
    berlin = ZoneInfo("Europe/Berlin")
    service = ServiceFactory(rate=Decimal("10"))
    for n, hour in enumerate((0, 23)):  # 23:30 UTC on the 29th, 21:30 UTC on the 30th
        place(account, service, at=datetime(2025, 3, 30, hour, 30, tzinfo=berlin), link=f"dst{n}")
    place(account, service, at=datetime(2025, 3, 31, 0, 30, tzinfo=berlin), link="dst-next")

    daily = dashboard_daily(now=datetime(2025, 3, 31, 12, 0, tzinfo=berlin))
    assert [(d.day.isoformat(), d.orders) for d in daily[-3:]] == [("2025-03-29", 0), ("2025-03-30", 2), ("2025-03-31", 1)]


def test_every_status_and_hold_reason_is_listed_with_zeros():
    counts = dashboard_order_counts(now=NOW)
    assert counts.by_status == {status: 0 for status in OrderStatus.values}
    assert counts.holds == {"needs_checking": 0, "provider_out_of_funds": 0, "parked": 0}
    assert (counts.other_holds, counts.stuck) == (0, 0)
    assert [d.orders for d in dashboard_daily(now=NOW)] == [0] * 30


def test_counts_per_status_and_hold(account):
    service = ServiceFactory()
    orders = [place(account, service, at=NOW - timedelta(minutes=1), link=f"l{n}", quantity=100) for n in range(5)]
    Order.objects.filter(pk=orders[0].pk).update(status=OrderStatus.IN_PROGRESS)
    Order.objects.filter(pk=orders[1].pk).update(status=OrderStatus.COMPLETED)
    Order.objects.filter(pk=orders[2].pk).update(hold_reason=HoldReason.PARKED)
    Order.objects.filter(pk=orders[3].pk).update(hold_reason="invented_later")

    counts = dashboard_order_counts(now=NOW)
    assert counts.by_status == {
        "Pending": 3, "Processing": 0, "In progress": 1, "Completed": 1, "Partial": 0, "Canceled": 0,
    }
    assert counts.holds == {"needs_checking": 0, "provider_out_of_funds": 0, "parked": 1}
    assert counts.other_holds == 1


def test_top_five_services_by_revenue_kept(account):
    at = NOW - timedelta(days=2)
    services = [ServiceFactory(name=f"S{n}", rate=Decimal(n + 1), max_quantity=100000) for n in range(6)]  # S5 is the dearest
    for n, service in enumerate(services):
        for k in range(2):
            place(account, service, at=at, link=f"s{n}-{k}")  # 2 orders × (n+1).00
    refunded = place(account, services[0], at=at, quantity=100000, link="big")  # 100.00, then refunded
    cancel(account, refunded, at=at + timedelta(minutes=5))
    place(account, services[1], at=NOW - timedelta(days=40), quantity=100000, link="old")  # before the window

    top = dashboard_top_services(now=NOW)
    assert [(s.name, s.orders, s.revenue) for s in top] == [
        ("S5", 2, Decimal("12.00000")),
        ("S4", 2, Decimal("10.00000")),
        ("S3", 2, Decimal("8.00000")),
        ("S2", 2, Decimal("6.00000")),
        ("S1", 2, Decimal("4.00000")),
    ]  # S0 kept 2.00 (3 orders, one fully refunded): sixth, left out


def test_stuck_means_due_and_not_moved_for_ten_minutes(account):
    service = ServiceFactory()
    links = itertools.count()

    def order(status: str, *, created: int, updated: int, deliver_from: int | None = None, hold: str = "") -> Order:
        placed = place(account, service, at=NOW - timedelta(minutes=created), link=f"u{next(links)}")
        Order.objects.filter(pk=placed.pk).update(
            status=status,
            hold_reason=hold,
            updated_at=NOW - timedelta(minutes=updated),
            deliver_from=None if deliver_from is None else NOW - timedelta(minutes=deliver_from),
        )
        return placed

    pending_old = order(OrderStatus.PENDING, created=20, updated=0)  # re-sent every tick, never picked up
    order(OrderStatus.PENDING, created=9, updated=9)
    order(OrderStatus.PENDING, created=60, updated=60, hold=HoldReason.PARKED)  # an operator's, not stuck
    processing_due = order(OrderStatus.PROCESSING, created=40, updated=40, deliver_from=15)
    order(OrderStatus.PROCESSING, created=40, updated=40, deliver_from=1)  # due only a minute ago
    order(OrderStatus.PROCESSING, created=40, updated=40, deliver_from=-30)  # not due yet
    in_progress_idle = order(OrderStatus.IN_PROGRESS, created=30, updated=11, deliver_from=25)
    order(OrderStatus.IN_PROGRESS, created=30, updated=2, deliver_from=25)
    order(OrderStatus.COMPLETED, created=90, updated=60)

    assert dashboard_order_counts(now=NOW).stuck == 3
    stuck = dashboard_stuck_orders(now=NOW)
    assert [o.pk for o in stuck] == [pending_old.pk, processing_due.pk, in_progress_idle.pk]  # longest first
    assert stuck[0].stuck_since == NOW - timedelta(minutes=20)
    assert [o.pk for o in dashboard_stuck_orders(now=NOW, limit=2)] == [pending_old.pk, processing_due.pk]


def svg_tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_the_chart_is_well_formed_svg_with_thirty_bars_and_tooltips(account):
    service = ServiceFactory(name='Likes <b>"fast"</b> & cheap')
    place(account, service, at=NOW - timedelta(hours=1))
    with clock(NOW):
        context = panel_dashboard()
    root = svg_tree(str(context["chart"]))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert "Orders: 1 in all" in root.get("aria-label")
    days = root.findall(f"{SVG}g[@class='smm-chart-day']")
    assert len(days) == 30
    assert len(root.findall(f".//{SVG}rect[@class='smm-chart-bar']")) == 31  # 30 days + the legend's swatch
    assert days[-1].find(f"{SVG}title").text == "Sat 15 Mar 2025 — Orders: 1; Revenue: 5.00 TRY"
    assert len(root.findall(f"{SVG}circle[@class='smm-chart-point']")) == 30
    assert [t.text for day in days for t in day.iter(f"{SVG}text")] == ["15 Feb", "22 Feb", "1 Mar", "8 Mar", "15 Mar"]


def test_chart_text_is_escaped():
    nasty = '<script>alert("x")</script> & \'co\''
    svg = bar_line_chart(
        title=nasty, labels=[nasty, "b"], tick_labels=[nasty, ""], bars=[3, 0], line=[Decimal("-1.5"), Decimal(2)],
        bar_name=nasty, line_name="Revenue",
    )
    root = svg_tree(svg)
    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == nasty
    assert root.find(f"{SVG}g/{SVG}title").text.startswith(nasty)


def test_admin_index_shows_the_dashboard_above_the_model_list(client, account):
    place(account, ServiceFactory(), at=timezone.now() - timedelta(minutes=30), link="stuck-one")
    admin = get_user_model().objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    for text in ("Orders by status", "Top services, 30 days", "Stuck orders", "<svg", 'role="img"'):
        assert text in page
    stuck = Order.objects.get(link="stuck-one")
    assert f'href="/admin/orders/order/{stuck.pk}/change/"' in page
    assert 'href="/admin/orders/order/?status__exact=In+progress"' in page
    # The usual list of models is still there, below the dashboard.
    assert page.index('class="panel-dash"') < page.index('id="content-main"')
    for model_link in ('href="/admin/orders/order/"', 'href="/admin/catalog/service/"', 'href="/admin/accounts/account/"'):
        assert model_link in page


def test_staff_who_cannot_view_orders_get_the_plain_index(client):
    staff = get_user_model().objects.create_user("clerk", password="x" * 12, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_service"))
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert "panel-dash" not in page and "smm-chart" not in page
    assert 'href="/admin/catalog/service/"' in page


def test_dashboard_query_count_does_not_grow_with_the_data(client, account, django_assert_max_num_queries):
    services = [ServiceFactory() for _ in range(7)]

    def add_orders(count: int, start: int) -> None:
        for n in range(start, start + count):
            order = place(
                account, services[n % 7], at=timezone.now() - timedelta(days=n % 35, minutes=20), link=f"q{n}", quantity=100
            )
            if n % 5 == 0:
                Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_PROGRESS, hold_reason=HoldReason.PARKED)

    admin = get_user_model().objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)

    def index_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/").status_code == 200
        return len(queries)

    add_orders(10, 0)
    client.get("/admin/")  # warm up: the session, content types …
    with_ten = index_queries()
    add_orders(190, 10)
    with django_assert_max_num_queries(with_ten):
        assert client.get("/admin/").status_code == 200
    assert index_queries() == with_ten

    with CaptureQueriesContext(connection) as queries:
        dashboard = dashboard_get(now=timezone.now())
    assert len(queries) == 8
    since = local_midnight(day=dashboard.days[0].day)
    assert sum(d.orders for d in dashboard.days) == Order.objects.filter(created_at__gte=since).count()


def test_the_last_tick_shows_its_age(client):
    admin = get_user_model().objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)
    assert "no tick yet" in client.get("/admin/").content.decode()
    finished = timezone.now() - timedelta(minutes=7)
    FulfillmentTick.objects.create(pk=1, started_at=finished, finished_at=finished, duration_ms=41, moved={})
    page = client.get("/admin/").content.decode()
    assert "7 min ago" in page and "took 41 ms" in page
