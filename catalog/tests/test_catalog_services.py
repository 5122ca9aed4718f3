from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import PriceChange, Service
from catalog.services import service_save, services_reprice, services_set_active
from catalog.tests.factories import ServiceFactory
from smmpanel.errors import DomainError


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("operator")


def test_a_rate_edit_is_logged_with_who_and_old_to_new(operator):
    service = ServiceFactory(rate=Decimal("5"))
    service.rate = Decimal("6.5")
    service_save(service=service, actor=operator)
    service.name = "Renamed"  # not a price change
    service_save(service=service, actor=operator)
    change = PriceChange.objects.get()
    assert (change.service, change.old_rate, change.new_rate, change.changed_by) == (
        service, Decimal("5"), Decimal("6.5"), operator,
    )


def test_reprice_by_percent_logs_each_change_exact_to_six_places(operator):
    cheap = ServiceFactory(rate=Decimal("0.0125"))
    dear = ServiceFactory(rate=Decimal("10"))
    assert services_reprice(service_ids=[cheap.pk, dear.pk], percent=Decimal("10"), actor=operator) == 2
    assert Service.objects.get(pk=cheap.pk).rate == Decimal("0.013750")
    assert Service.objects.get(pk=dear.pk).rate == Decimal("11")
    assert sorted(PriceChange.objects.values_list("old_rate", "new_rate")) == [
        (Decimal("0.0125"), Decimal("0.01375")), (Decimal("10"), Decimal("11")),
    ]
    assert services_reprice(service_ids=[dear.pk], percent=Decimal("-50"), actor=operator) == 1
    assert Service.objects.get(pk=dear.pk).rate == Decimal("5.5")


@pytest.mark.parametrize("percent", ["-100", "-150", "1001"])
def test_reprice_refuses_absurd_percentages(operator, percent):
    service = ServiceFactory(rate=Decimal("10"))
    with pytest.raises(DomainError):
        services_reprice(service_ids=[service.pk], percent=Decimal(percent), actor=operator)
    assert Service.objects.get(pk=service.pk).rate == Decimal("10") and not PriceChange.objects.exists()


def test_enable_and_disable_count_only_real_changes(db):
    services = [ServiceFactory(is_active=True), ServiceFactory(is_active=False)]
    ids = [s.pk for s in services]
    assert services_set_active(service_ids=ids, active=False) == 1
    assert services_set_active(service_ids=ids, active=False) == 0
    assert services_set_active(service_ids=ids, active=True) == 2
