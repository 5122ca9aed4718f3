from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from providers.management.arguments import decimal_number
from providers.services import provider_create
from smmpanel.errors import DomainError


class Command(BaseCommand):
    help = (
        "Add an upstream provider: another panel that speaks the standard SMM API, whose services this panel "
        "resells. Prints what was added, then the provider's id as the last line. The key is stored (it is sent "
        "with every call) but never printed; admin shows it masked. Nothing is imported: run provider_import next."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the provider, e.g. its domain.")
        parser.add_argument("api_url", help="The provider's API endpoint, e.g. https://provider.example/api/v2")
        parser.add_argument("api_key", help="Our API key at the provider.")
        parser.add_argument(
            "--markup", type=decimal_number, default=None, metavar="PERCENT",
            help="Default markup on the provider's rates, e.g. 25 sells at 1.25 × their price (default 0).",
        )
        parser.add_argument(
            "--currency", default=None, metavar="XXX",
            help=f"The provider's currency (default: the panel's, {settings.PANEL_CURRENCY}).",
        )
        parser.add_argument(
            "--exchange-rate", type=decimal_number, default=None, metavar="R",
            help=f"{settings.PANEL_CURRENCY} per 1 unit of the provider's currency. Needed before importing from "
                 "a provider in another currency; 1 (and not needed) in the panel's own.",
        )

    def handle(self, *args, name, api_url, api_key, markup, currency, exchange_rate, **options):
        try:
            provider = provider_create(
                name=name, api_url=api_url, api_key=api_key, currency=currency, exchange_rate=exchange_rate,
                **({} if markup is None else {"default_markup_percent": markup}),
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        rate = provider.panel_exchange_rate
        self.stdout.write(
            f"Added provider {provider.name} ({provider.currency}, markup "
            f"{provider.default_markup_percent.normalize():f} %, key {provider.masked_key})."
        )
        if rate is None:
            self.stdout.write(f"Set its exchange rate ({settings.PANEL_CURRENCY} per 1 {provider.currency}) "
                              "in admin before importing.")
        self.stdout.write(str(provider.pk))
