"""Catalog sync (real HTTP to a stub panel): fields and rates follow the provider, hand-set prices
stay, vanished services pause and come back, operators' choices win, failures change nothing."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from catalog.models import PriceChange, Service
from catalog.services import service_save, services_reprice, services_set_active
from providers.catalog_import import provider_services_import
from providers.catalog_sync import provider_catalog_sync, service_rate_follow
from providers.errors import ProviderTemporaryError
from providers.models import Provider, ProviderService, ServiceSyncChange, SyncChangeKind
from providers.tasks import provider_catalog_sync as sync_task
from providers.tests.catalogs import CATALOG, entry, usd_provider
from providers.tests.stub_panel import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("try_panel")]


@pytest.fixture
def try_panel(settings):
    settings.PANEL_CURRENCY = "TRY"


@pytest.fixture
def imported(panel):
    """A USD provider with 101, 102, 103 imported."""
    panel.reply("services", CATALOG[:3])
    provider = usd_provider(panel)
    provider_services_import(provider_id=provider.pk)
    return provider


def ours(upstream_id: str) -> Service:
    return Service.objects.get(provider_service_id=upstream_id)


def kinds(service: Service) -> list[str]:
    return list(ServiceSyncChange.objects.filter(service=service).order_by("pk").values_list("kind", flat=True))


def test_sync_copies_bounds_flags_and_the_new_rate(panel, imported):
    panel.reply("services", [
        entry(101, "IG Followers [Real]", "0.2", min=50, max=20000, refill=False, description="Start 0-6h"),
        *CATALOG[1:3],
    ])

    report = provider_catalog_sync(provider_id=imported.pk)

    assert (report.listed, report.updated, report.repriced, report.paused) == (3, 1, 1, 0)
    service = ours("101")
    assert (service.min_quantity, service.max_quantity, service.refill, service.description) == (
        50, 20000, False, "Start 0-6h")
    assert (service.provider_rate, service.rate) == (Decimal("0.200000"), Decimal("8.530864"))
    change = PriceChange.objects.get(service=service)
    assert (change.old_rate, change.new_rate, change.changed_by) == (Decimal("5.265932"), Decimal("8.530864"), None)
    assert change.note == "sync: Dollars rate 0.2000 USD"
    updated = ServiceSyncChange.objects.get(service=service, kind=SyncChangeKind.UPDATED).detail
    assert updated == ("min 100 → 50; max 10000 → 20000; refill on → off; description changed; "
                       "provider rate 0.123456 → 0.2000 USD")
    assert kinds(service) == ["imported", "updated", "rate"]
    assert not PriceChange.objects.exclude(service=service).exists()
    imported.refresh_from_db()
    assert imported.catalog_synced_at is not None and imported.consecutive_failures == 0


def test_a_hand_set_price_is_kept_across_sync(panel, imported, admin_user):
    service = ours("101")
    service.rate = Decimal("7.5")
    service_save(service=service, actor=admin_user, note="edited in admin")
    assert ours("101").rate_is_manual
    services_reprice(service_ids=[ours("102").pk], percent=Decimal("10"), actor=admin_user)
    assert ours("102").rate_is_manual and not ours("103").rate_is_manual
    panel.reply("services", [entry(101, "x", "0.3", refill=True, description="Start 0-1h"), entry("102", "y", "0.9"), entry(103, "z", "0.0002")])

    provider_catalog_sync(provider_id=imported.pk)

    assert (ours("101").rate, ours("101").provider_rate) == (Decimal("7.500000"), Decimal("0.300000"))
    assert ours("102").rate == Decimal("23.459876")  # 21.327160 + 10 %, not 0.9 × 34.12345678 × 1.25
    assert ours("103").rate == Decimal("0.008531")  # follows: 0.0002 × 34.12345678 × 1.25 = 0.0085308…
    detail = ServiceSyncChange.objects.get(service=ours("101"), kind=SyncChangeKind.UPDATED).detail
    assert detail == "provider rate 0.123456 → 0.3000 USD (hand-set rate 7.5000 kept)"

    # Handing the price back to sync applies the current provider rate at once.
    service = ours("101")
    service.rate_is_manual = False
    service_save(service=service, actor=admin_user)
    service_rate_follow(service_id=service.pk, actor=admin_user)
    assert ours("101").rate == Decimal("12.796296")  # 0.3 × 34.12345678 × 1.25 = 12.79629629…


def test_vanished_services_pause_and_come_back(panel, imported):
    panel.reply("services", [CATALOG[0], entry(103, "TikTok Views", "0.0001", type="Subscriptions")])
    report = provider_catalog_sync(provider_id=imported.pk)

    assert report.paused == 2
    for upstream_id in ("102", "103"):
        service = ours(upstream_id)
        assert not service.is_active and service.paused_by_sync
    assert ServiceSyncChange.objects.get(service=ours("102"), kind="paused").detail == "gone from the provider's catalog"
    assert ServiceSyncChange.objects.get(service=ours("103"), kind="paused").detail == (
        "type 'Subscriptions' is not offered here")
    assert not ProviderService.objects.get(upstream_id="102").is_listed
    assert provider_catalog_sync(provider_id=imported.pk).paused == 0  # a repeat changes nothing

    panel.reply("services", CATALOG[:3])
    report = provider_catalog_sync(provider_id=imported.pk)

    assert report.unpaused == 2
    assert all(ours(uid).is_active and not ours(uid).paused_by_sync for uid in ("101", "102", "103"))
    assert kinds(ours("102")) == ["imported", "paused", "unpaused"]
    assert ProviderService.objects.get(upstream_id="102").is_listed


def test_a_service_the_operator_disabled_stays_disabled(panel, imported):
    services_set_active(service_ids=[ours("101").pk], active=False)
    panel.reply("services", CATALOG[1:3])
    provider_catalog_sync(provider_id=imported.pk)
    assert not ours("101").paused_by_sync  # already off: sync did not pause it …
    panel.reply("services", CATALOG[:3])
    provider_catalog_sync(provider_id=imported.pk)
    assert not ours("101").is_active  # … so it does not switch it back on

    # Paused by sync, then enabled by hand while still gone: sync leaves the operator's choice …
    panel.reply("services", CATALOG[1:3])
    services_set_active(service_ids=[ours("101").pk], active=True)
    provider_catalog_sync(provider_id=imported.pk)
    assert ours("101").paused_by_sync
    services_set_active(service_ids=[ours("101").pk], active=True)
    assert ours("101").is_active and not ours("101").paused_by_sync


@pytest.mark.parametrize("answer", [
    Reply(body=b"<html>502 Bad Gateway</html>", status=502), {"error": "Invalid API key"}, [],
])
def test_a_provider_that_fails_to_answer_changes_nothing(panel, imported, answer):
    before = list(Service.objects.order_by("pk").values())
    panel.reply("services", answer)

    with pytest.raises(ProviderTemporaryError):
        provider_catalog_sync(provider_id=imported.pk)

    assert list(Service.objects.order_by("pk").values()) == before
    assert not ServiceSyncChange.objects.exclude(kind=SyncChangeKind.IMPORTED).exists()
    imported.refresh_from_db()
    assert imported.consecutive_failures == 1 and imported.catalog_synced_at is None
    assert ProviderService.objects.filter(is_listed=True).count() == 3


def test_a_cleared_exchange_rate_freezes_rates_but_not_the_rest(panel, imported):
    Provider.objects.filter(pk=imported.pk).update(exchange_rate=None)
    panel.reply("services", [entry(101, "x", "0.3", max=777), *CATALOG[1:3]])
    report = provider_catalog_sync(provider_id=imported.pk)
    assert (ours("101").rate, ours("101").max_quantity) == (Decimal("5.265932"), 777)
    assert report.notes == ["Dollars is in USD and its exchange rate is not set"]


def test_the_worker_task_reports_instead_of_raising(panel, imported):
    panel.reply("services", Reply(drop=True), CATALOG[:3])
    assert sync_task(imported.pk).startswith("failed: Dollars: `services`")
    assert sync_task(imported.pk) == "3 listed, 0 updated, 0 repriced, 0 paused, 0 un-paused"
    assert sync_task(999999) == "gone"


def test_beat_runs_the_sync():
    entry = django_settings.CELERY_BEAT_SCHEDULE["providers-catalog-sync"]
    assert entry["task"] == "providers.tasks.providers_catalog_sync"
    assert entry["schedule"] == django_settings.PROVIDER_SYNC_SECONDS
