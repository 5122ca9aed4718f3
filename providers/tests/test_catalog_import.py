"""Importing a provider's services (real HTTP to a stub panel): names, categories, types, bounds
and flags kept; rates exact to 6 places; twice updates, never duplicates; refusals are clear."""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Category, Platform, PriceChange, Service
from catalog.service_types import ServiceType
from providers.catalog_import import provider_services_import
from providers.errors import ProviderAuthError, ProviderTemporaryError
from providers.models import Provider, ProviderService, ServiceSyncChange, SyncChangeKind
from providers.tests.catalogs import CATALOG, entry, usd_provider
from providers.upstream_catalog import guess_platform
from smmpanel.errors import DomainError

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("try_panel")]


@pytest.fixture
def try_panel(settings):
    settings.PANEL_CURRENCY = "TRY"


def test_import_all_creates_priced_services_in_their_categories(panel):
    panel.reply("services", CATALOG)
    provider = usd_provider(panel)

    report = provider_services_import(provider_id=provider.pk)

    assert [s.upstream_id for s in report.created] == ["101", "102", "103", "104", "106"]
    assert [(s.upstream_id, s.reason) for s in report.skipped] == [("105", "type 'Subscriptions' is not offered here")]
    services = {s.provider_service_id: s for s in Service.objects.filter(provider=provider)}
    followers = services["101"]
    # 0.123456 × 34.12345678 × 1.25 = 5.26593185… → 5.265932
    assert (followers.rate, followers.provider_rate, followers.markup_percent) == (
        Decimal("5.265932"), Decimal("0.123456"), None)
    assert (followers.name, followers.category.name, followers.category.platform) == (
        "IG Followers [Real]", "Instagram Followers", Platform.INSTAGRAM)
    assert (followers.min_quantity, followers.max_quantity, followers.refill, followers.cancel) == (100, 10000, True, True)
    assert followers.description == "Start 0-1h" and followers.is_active and not followers.rate_is_manual
    assert services["102"].rate == Decimal("21.327160")  # 0.5 × 34.12345678 × 1.25 = 21.3271604875
    assert (services["102"].min_quantity, services["102"].max_quantity) == (10, 50000)
    assert services["103"].rate == Decimal("0.004265") and services["103"].dripfeed  # 0.00426543…
    assert services["103"].category.platform == Platform.TIKTOK
    assert services["104"].type == ServiceType.CUSTOM_COMMENTS
    assert services["106"].category.name == "Uncategorized"
    assert ServiceSyncChange.objects.filter(kind=SyncChangeKind.IMPORTED).count() == 5
    snapshot = ProviderService.objects.filter(provider=provider)
    assert snapshot.count() == 6 and snapshot.get(upstream_id="105").type == "Subscriptions"


def test_importing_twice_updates_and_never_duplicates(panel):
    panel.reply("services", CATALOG)
    provider = usd_provider(panel)
    provider_services_import(provider_id=provider.pk, upstream_ids=["101"])
    Service.objects.filter(provider_service_id="101").update(name="My followers")  # an operator's rename
    panel.reply("services", [entry(101, "IG Followers v2", "0.2", max=20000)])

    report = provider_services_import(provider_id=provider.pk, upstream_ids=["101", 101])

    assert not report.created and [s.upstream_id for s in report.updated] == ["101"]
    service = Service.objects.get(provider=provider)
    assert (service.name, service.max_quantity, service.provider_rate) == ("My followers", 20000, Decimal("0.200000"))
    assert service.rate == Decimal("8.530864")  # 0.2 × 34.12345678 × 1.25 = 8.530864195
    change = PriceChange.objects.get(service=service)
    assert (change.old_rate, change.new_rate, change.note) == (Decimal("5.265932"), Decimal("8.530864"),
                                                               "import from Dollars")


def test_import_named_services_with_an_explicit_markup(panel):
    panel.reply("services", CATALOG)
    provider = usd_provider(panel)

    report = provider_services_import(provider_id=provider.pk, upstream_ids=["102", "999"],
                                      markup_percent=Decimal("-10"))

    assert [s.upstream_id for s in report.created] == ["102"]
    assert [(s.upstream_id, s.reason) for s in report.skipped] == [("999", "not in the provider's catalog")]
    service = Service.objects.get(provider=provider)
    assert (service.markup_percent, service.rate) == (Decimal("-10"), Decimal("15.355556"))  # 15.3555555…


def test_existing_categories_are_reused_ignoring_case(panel):
    Category.objects.create(name="instagram followers", platform=Platform.INSTAGRAM)
    panel.reply("services", CATALOG[:1])
    provider = usd_provider(panel)
    provider_services_import(provider_id=provider.pk)
    assert Category.objects.count() == 1
    assert Service.objects.get().category.name == "instagram followers"


def test_a_provider_in_another_currency_is_refused_until_its_rate_is_set(panel):
    panel.reply("services", CATALOG)
    provider = usd_provider(panel, exchange_rate=None)

    with pytest.raises(DomainError, match=r"Dollars is in USD: set its exchange rate .* before importing"):
        provider_services_import(provider_id=provider.pk)
    assert panel.calls("services") == [] and not Service.objects.exists()

    Provider.objects.filter(pk=provider.pk).update(exchange_rate=Decimal("2"))
    assert len(provider_services_import(provider_id=provider.pk).created) == 5
    assert Service.objects.get(provider_service_id="101").rate == Decimal("0.308640")  # 0.123456 × 2 × 1.25


def test_a_provider_in_the_panel_currency_needs_no_rate(panel):
    panel.reply("services", CATALOG[:1])
    provider = usd_provider(panel, currency="TRY", exchange_rate=None, default_markup_percent=Decimal("0"))
    provider_services_import(provider_id=provider.pk)
    assert Service.objects.get().rate == Decimal("0.123456")


def test_a_failing_provider_changes_nothing_and_its_health_shows_it(panel):
    provider = usd_provider(panel)
    panel.reply("services", {"error": "Invalid API key"}, [])
    with pytest.raises(ProviderAuthError):
        provider_services_import(provider_id=provider.pk)
    with pytest.raises(ProviderTemporaryError, match="empty"):
        provider_services_import(provider_id=provider.pk)
    provider.refresh_from_db()
    assert provider.consecutive_failures == 2 and "empty" in provider.last_error
    assert not Service.objects.exists() and not ProviderService.objects.exists()


@pytest.mark.parametrize(("category", "platform"), [
    ("Instagram Followers [Refill 30D]", Platform.INSTAGRAM), ("IG Reels Views", Platform.INSTAGRAM),
    ("TikTok Likes", Platform.TIKTOK), ("YouTube Shorts Views", Platform.YOUTUBE), ("X / Twitter Retweets",
                                                                                    Platform.TWITTER),
    ("Facebook Page Likes", Platform.FACEBOOK), ("Telegram Members", Platform.TELEGRAM),
    ("Spotify Plays", Platform.SPOTIFY), ("Website Traffic [Worldwide]", Platform.WEBSITE),
    ("Discord Members", Platform.OTHER), ("Bigger likes", Platform.OTHER),
])
def test_platform_guessed_from_the_category(category, platform):
    assert guess_platform(category) == platform
