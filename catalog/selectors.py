"""Read queries for the catalog."""
from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Service


def services_for_sale() -> QuerySet[Service]:
    """Active services in catalog order, with their category, in one query."""
    return Service.objects.filter(is_active=True).select_related("category")
