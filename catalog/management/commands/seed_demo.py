from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account
from accounts.services import reseller_create
from catalog.demo_catalog import DEMO_CATALOG
from catalog.models import Category, Service

DEMO_RESELLER = "demo"
DEMO_FUNDS = Decimal("1000")


class Command(BaseCommand):
    help = (
        "Load the demo catalog and a demo reseller with funds, once per database: "
        "a database that already has a catalog (categories or services) or the demo reseller is left as it is."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        # Categories count too: an operator's own category would clash with a demo one (unique names).
        if Service.objects.exists() or Category.objects.exists():
            self.stdout.write("Catalog already has categories or services: left unchanged.")
        else:
            count = 0
            for category_order, (category_name, platform, services) in enumerate(DEMO_CATALOG):
                category = Category.objects.create(name=category_name, platform=platform, sort_order=category_order)
                for service_order, (name, type_, rate, low, high, flags, delay, speed, about) in enumerate(services):
                    Service.objects.create(
                        category=category, name=name, type=type_, rate=Decimal(rate),
                        min_quantity=low, max_quantity=high, cancel=True, refill=flags.get("refill", False),
                        dripfeed=flags.get("dripfeed", False), description=about, sort_order=service_order,
                        start_delay_seconds=delay, speed_per_minute=speed,
                    )
                    count += 1
            self.stdout.write(f"Loaded {count} demo services.")
        if Account.objects.filter(user__username=DEMO_RESELLER).exists():
            self.stdout.write(f"Reseller {DEMO_RESELLER!r} exists: left unchanged.")
        else:
            reseller_create(username=DEMO_RESELLER, balance=DEMO_FUNDS)
            self.stdout.write(f"Created reseller {DEMO_RESELLER!r} with {DEMO_FUNDS} in funds.")
