from decimal import Decimal

import factory

from catalog.models import Category, Platform, Service
from catalog.service_types import ServiceType


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = "Instagram"
    platform = Platform.INSTAGRAM


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Instagram Followers {n}")
    type = ServiceType.DEFAULT
    rate = Decimal("5.000000")
    min_quantity = 100
    max_quantity = 5000
    refill = True
    cancel = True
    dripfeed = False
    description = "Followers"
