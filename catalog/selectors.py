"""Read queries for the catalog, with each reseller's own prices applied."""
from __future__ import annotations

import copy
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery

from catalog import snapshot
from catalog.models import CatalogVersion, CustomRate, Service


def services_for_sale() -> QuerySet[Service]:
    """Active services in catalog order, with their category, in one query."""
    return Service.objects.filter(is_active=True).select_related("category")


def catalog_version() -> str | None:
    """The catalog's version token: changed in the same transaction as any write to services,
    categories or custom rates (database triggers, see CatalogVersion). None only in a database
    whose token row was removed (e.g. emptied by a test's flush)."""
    return next(iter(CatalogVersion.objects.filter(pk=1).values_list("token", flat=True)), None)


def custom_rates(*, account_id: int) -> dict[int, Decimal]:
    """This reseller's own prices, by service id (one query)."""
    return dict(CustomRate.objects.filter(account_id=account_id).values_list("service_id", "rate"))


def rate_for(*, account_id: int | None, service: Service) -> Decimal:
    """What this reseller pays per 1000 (or per package) of a service."""
    if account_id is None:
        return service.rate
    custom = CustomRate.objects.filter(account_id=account_id, service_id=service.pk).values_list("rate", flat=True)
    return next(iter(custom), service.rate)


def service_for_order(*, service_id: int, account_id: int | None, catalog_version: str | None = None) -> Service | None:
    """An active service with `own_rate`, this reseller's own price for it (None without one).

    Given the catalog's current version token, from this process's snapshot (catalog/snapshot.py),
    usually without a query. Else in one query: `add` read the rate with a second one. No ORDER BY
    (the catalog ordering would join the category for a single row)."""
    if catalog_version is not None:
        shared = snapshot.service(service_id=service_id, version=catalog_version)
        if shared is None:
            return None
        found = copy.copy(shared)  # the snapshot's row is shared by every call of this process
        found.own_rate = (
            None if account_id is None
            else snapshot.own_rates(account_id=account_id, version=catalog_version).get(service_id)
        )
        return found
    own_rate = CustomRate.objects.filter(account_id=account_id, service_id=OuterRef("pk")).values("rate")[:1]
    return next(iter(
        Service.objects.filter(pk=service_id, is_active=True).annotate(own_rate=Subquery(own_rate)).order_by()[:1]
    ), None)
