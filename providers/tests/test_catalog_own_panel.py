"""Import and sync against a live instance of this panel's own API: what our `services` answers,
import reads, priced exactly; sync follows our own catalog's changes (rate, bounds, disabling)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Service
from catalog.service_types import ServiceType
from catalog.services import service_save, services_set_active
from catalog.tests.factories import ServiceFactory
from providers.catalog_import import provider_services_import
from providers.catalog_sync import provider_catalog_sync
from providers.services import provider_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_and_sync_from_our_own_panel(live_server, reseller, settings):
    settings.PANEL_CURRENCY = "TRY"
    followers = ServiceFactory(name="Followers", rate=Decimal("5.123456"), min_quantity=50, max_quantity=9000,
                               refill=True, dripfeed=True)
    package = ServiceFactory(name="Package", type=ServiceType.PACKAGE, rate=Decimal("20"), min_quantity=1,
                             max_quantity=1)
    provider = provider_create(name="Ourselves", api_url=f"{live_server.url}/api/v2", api_key=reseller.key,
                               currency="USD", exchange_rate=Decimal("0.5"), default_markup_percent=Decimal("33.3333"))

    report = provider_services_import(provider_id=provider.pk)

    assert sorted(s.upstream_id for s in report.created) == sorted([str(followers.pk), str(package.pk)])
    copy = Service.objects.get(provider=provider, provider_service_id=str(followers.pk))
    # 5.123456 × 0.5 × 1.333333 = 3.41563648… → 3.415636
    assert (copy.rate, copy.provider_rate) == (Decimal("3.415636"), Decimal("5.123456"))
    assert (copy.name, copy.category.name, copy.min_quantity, copy.max_quantity) == ("Followers", "Instagram", 50, 9000)
    assert copy.refill and copy.dripfeed and copy.category_id == followers.category_id
    assert Service.objects.get(provider=provider, provider_service_id=str(package.pk)).type == ServiceType.PACKAGE

    # Upstream changes: a new rate and bounds for one service, the other disabled.
    followers.rate, followers.max_quantity = Decimal("6"), 12000
    service_save(service=followers)
    services_set_active(service_ids=[package.pk], active=False)

    report = provider_catalog_sync(provider_id=provider.pk)

    copy.refresh_from_db()
    assert (copy.rate, copy.max_quantity) == (Decimal("3.999999"), 12000)  # 6 × 0.5 × 1.333333 = 3.999999
    packaged = Service.objects.get(provider=provider, provider_service_id=str(package.pk))
    assert not packaged.is_active and packaged.paused_by_sync
    assert (report.repriced, report.paused) == (1, 1)

    services_set_active(service_ids=[package.pk], active=True)
    assert provider_catalog_sync(provider_id=provider.pk).unpaused == 1
    assert Service.objects.get(pk=packaged.pk).is_active
