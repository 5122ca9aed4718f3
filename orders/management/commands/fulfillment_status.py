from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from orders.selectors import fulfillment_overview


class Command(BaseCommand):
    help = (
        "Show the fulfillment engine's state: orders per status, orders on hold, the order that has "
        "waited longest for the worker, and when the last tick ran. Exit status 1 when the last tick "
        "is older than three tick intervals (or never ran) while orders are due."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        view = fulfillment_overview(now=now)
        self.stdout.write("Orders by status:")
        for status, count in view["by_status"].items():
            self.stdout.write(f"  {status:<12} {count}")
        self.stdout.write("On hold:" + ("" if view["holds"] else " none"))
        for reason, count in view["holds"].items():
            self.stdout.write(f"  {reason:<22} {count}")
        oldest = view["oldest_due"]
        if oldest:
            waited = (now - oldest["waiting_since"]).total_seconds()
            self.stdout.write(f"Oldest due order: #{oldest['pk']} ({oldest['status']}), waiting for {waited:.0f} s")
        else:
            self.stdout.write("Oldest due order: none")
        tick = view["last_tick"]
        if tick is None:
            self.stdout.write("Last tick: never — is the beat (and a worker) running?")
        else:
            age = (now - tick.finished_at).total_seconds()
            self.stdout.write(f"Last tick: {age:.0f} s ago, took {tick.duration_ms} ms, {dict(tick.moved)}")
        stale = tick is None or (now - tick.finished_at).total_seconds() > 3 * settings.FULFILLMENT_TICK_SECONDS
        if stale and oldest:
            self.stderr.write("Orders are due but the tick is not running: start `celery -A smmpanel worker` and beat.")
            raise SystemExit(1)
