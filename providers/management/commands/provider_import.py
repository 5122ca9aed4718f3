from django.core.management.base import BaseCommand, CommandError

from providers.catalog_import import provider_get, provider_services_import
from providers.errors import ProviderError
from providers.management.arguments import decimal_number
from smmpanel.errors import DomainError
from smmpanel.money import format_rate


class Command(BaseCommand):
    help = (
        "Import a provider's services into the catalog: the SERVICE_IDs named (the provider's ids), or every "
        "service it lists when none are named. New services keep the provider's name and category (created when "
        "missing) and sell at the provider's rate × exchange rate × (1 + markup %). Services imported before are "
        "updated, never duplicated (their names, categories and hand-set prices are kept). Prints one line per "
        "service (created / updated / skipped and why), then a summary as the last line: "
        "`created N, updated N, skipped N`. Exits with status 1 when nothing could be asked (unknown provider, "
        "exchange rate not set, provider not answering)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The provider's name (as given to provider_add).")
        parser.add_argument("service_ids", nargs="*", metavar="SERVICE_ID", help="The provider's service ids.")
        parser.add_argument(
            "--markup", type=decimal_number, default=None, metavar="PERCENT",
            help="Markup for these services (kept on each); default: the provider's default markup.",
        )

    def handle(self, *args, name, service_ids, markup, **options):
        try:
            provider = provider_get(name=name)
            report = provider_services_import(provider_id=provider.pk, upstream_ids=service_ids or None,
                                              markup_percent=markup)
        except (DomainError, ProviderError) as exc:
            raise CommandError(exc.message) from exc
        for verb, imported in (("created", report.created), ("updated", report.updated)):
            for service in imported:
                self.stdout.write(
                    f"{verb} #{service.service_id} from {service.upstream_id}: {service.name} at "
                    f"{format_rate(service.rate)} (provider {format_rate(service.provider_rate)} "
                    f"{report.provider.currency})"
                )
        for skipped in report.skipped:
            self.stdout.write(f"skipped {skipped.upstream_id}: {skipped.reason}")
        self.stdout.write(f"created {len(report.created)}, updated {len(report.updated)}, skipped {len(report.skipped)}")
