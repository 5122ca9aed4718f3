"""Two live instances of this panel on loopback for the end-to-end tests: panel B is panel A's provider.

Each panel has its own VAR_DIR and either its own PostgreSQL database (`smmpanel_fwd_<panel>_<pid>`,
created and dropped here) and private redis-server on a free port, as in production, or — with
`embedded` — `make run`'s defaults: SQLite and the filesystem broker under its VAR_DIR. Real
processes: web (runserver), a Celery worker and beat. Setup goes in through the panels' own
management commands; assertions read the panels' API and, for the money invariants, their
databases. Every process and database is stopped or dropped at the end, also when a test fails.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import requests

from orders.tests.live_processes import CELERY, ROOT, PrivateRedis, Process, Processes, free_port, wait_for

PG = "postgres://postgres@127.0.0.1:5432"


def _admin_sql(statement: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(statement)


@dataclass
class LivePanel:
    name: str
    root: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    web: Process | None = None
    # make run's defaults: SQLite and the filesystem broker under VAR_DIR, no server of any kind.
    embedded: bool = False

    def __post_init__(self):
        self.redis = None if self.embedded else PrivateRedis(self.root.parent)
        if self.redis:
            self.redis.start()
        self.db_name = f"smmpanel_fwd_{self.name.lower()}_{os.getpid()}"
        self.var_dir = self.root / "var"
        self.var_dir.mkdir(parents=True)
        dropped = {"REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "DATABASE_URL"}
        inherited = {k: v for k, v in os.environ.items() if k not in dropped}
        servers = {} if self.embedded else {"DATABASE_URL": f"{PG}/{self.db_name}", "CELERY_BROKER_URL": self.redis.url}
        self.env = {
            **inherited,
            **servers,
            "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
            "SECRET_KEY": f"e2e-secret-{self.name}",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_FORMAT": "text",
            "VAR_DIR": str(self.var_dir),
            "FULFILLMENT_TICK_SECONDS": "1",
            "PROVIDER_POLL_SECONDS": "1",
            "PROVIDER_RETRY_MAX_SECONDS": "2",
            "PROVIDER_CONNECT_TIMEOUT_SECONDS": "2",
            "PROVIDER_READ_TIMEOUT_SECONDS": "10",
            **self.settings,
        }
        self.processes = Processes(tmp_path=self.root, env=self.env)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    # --- lifecycle ---------------------------------------------------------------------------

    def create_database(self, setup: str) -> subprocess.Popen:
        """Create the database, then (in the background) migrate it and run `setup` in the panel's
        Django: one process, since each start of Django costs seconds on a loaded machine."""
        if not self.embedded:
            _admin_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            _admin_sql(f'CREATE DATABASE "{self.db_name}"')
        code = "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n" + setup
        return subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def spawn_web(self) -> Process:
        self.web = self.processes.spawn(
            f"web-{self.name}", [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"]
        )
        return self.web

    def start_web(self) -> Process:
        self.spawn_web()
        self.wait_web()
        return self.web

    def wait_web(self) -> None:
        wait_for(self._answers, timeout=60, interval=0.2, message=f"panel {self.name}'s web")

    def stop_web(self) -> None:
        self.web.stop()
        self.processes.started.remove(self.web)
        self.web = None

    def spawn_workers(self) -> list[Process]:
        """A worker and a beat, started; wait_ready() waits for them (so both panels start at once)."""
        worker = self.processes.spawn(
            f"worker-{self.name}",
            [*CELERY, "worker", "--loglevel", "INFO", "--concurrency", "2", "-n", f"{self.name}@%h",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
        )
        beat = self.processes.spawn(
            f"beat-{self.name}", [*CELERY, "beat", "--loglevel", "INFO", "-s", str(self.var_dir / "beat-schedule")]
        )
        return [worker, beat]

    @staticmethod
    def wait_ready(worker: Process, beat: Process) -> None:
        for process, line in ((worker, "ready."), (beat, "beat: Starting")):
            wait_for(lambda: line in process.log() or not process.alive(), timeout=60, message=process.name)
            assert process.alive(), process.log()

    def stop(self) -> None:
        # SIGTERM to every process first, so their shutdowns overlap; stop() then waits for each.
        for process in self.processes.started:
            process.kill_group(signal.SIGTERM)
        self.processes.stop_all()
        if not self.embedded:
            self.redis.stop()
            _admin_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def _answers(self) -> bool:
        assert self.web.alive(), self.web.log()
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/health/live/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    # --- talking to it -----------------------------------------------------------------------

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def shell(self, code: str):
        """Run Python in the panel's Django (`manage.py shell`); returns what it printed last, as JSON."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def api(self, key: str, action: str, **fields):
        response = requests.post(self.api_url, data={"key": key, "action": action, **fields}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def rows(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(query, params).fetchall()

    def order(self, order_id: int) -> dict:
        columns = ("status", "hold_reason", "remains", "start_count", "charge", "cost", "provider_order_id",
                   "provider_submitted_at", "provider_failures", "provider_cancel_requested_at")
        [row] = self.rows(f"SELECT {', '.join(columns)} FROM orders_order WHERE id = %s", order_id)
        return dict(zip(columns, row))

    def ledger(self, order_id: int) -> list[tuple[str, Decimal]]:
        return self.rows("SELECT kind, amount FROM accounts_ledgerentry WHERE order_id = %s ORDER BY id", order_id)

    def assert_money_consistent(self) -> None:
        """balance == sum(ledger) for every account; at most one charge and one refund per order,
        the refund never above the charge."""
        mismatched = self.rows(
            "SELECT a.id, a.balance, coalesce(sum(l.amount), 0) FROM accounts_account a"
            " LEFT JOIN accounts_ledgerentry l ON l.account_id = a.id GROUP BY a.id"
            " HAVING a.balance <> coalesce(sum(l.amount), 0)"
        )
        assert mismatched == [], mismatched
        over = self.rows(
            "SELECT o.id FROM orders_order o JOIN accounts_ledgerentry l ON l.order_id = o.id"
            " GROUP BY o.id HAVING count(*) FILTER (WHERE kind = 'charge') <> 1"
            " OR count(*) FILTER (WHERE kind = 'refund') > 1"
            " OR coalesce(sum(l.amount) FILTER (WHERE kind = 'refund'), 0) > o.charge"
        )
        assert over == [], over


B_SETUP = """
import json
from decimal import Decimal
from accounts.services import reseller_create
from catalog.models import Category, Service
category = Category.objects.create(name="Instagram", platform="instagram")
common = dict(category=category, type="Default", min_quantity=100, max_quantity=10000, cancel=True, refill=True)
ids = {
    "fast": Service.objects.create(name="Followers fast", rate=Decimal("4"), speed_per_minute=250, drop_percent=10,
                                   **common).pk,
    "short": Service.objects.create(name="Followers short", rate=Decimal("4"), speed_per_minute=600,
                                    shortfall_percent=100, **common).pk,
    "slow": Service.objects.create(name="Followers later", rate=Decimal("4"), start_delay_seconds=3600, **common).pk,
    "pricey": Service.objects.create(name="Followers premium", rate=Decimal("100"), **common).pk,
}
account, key = reseller_create(username="panel_a", balance=Decimal("100"))
print(json.dumps({"services": ids, "key": key}))
"""

# B's ids are known before B exists (a fresh database numbers from 1, in B_SETUP's order), so both
# panels set up at once; the key A uses at B is set once B has issued it.
B_SERVICE_IDS = {"fast": 1, "short": 2, "slow": 3, "pricey": 4}

A_SETUP = """
import json
from decimal import Decimal
from accounts.services import reseller_create
account, key = reseller_create(username="alice", balance=Decimal("1000"))
print(json.dumps({"key": key}))
"""


def _last_json(process: subprocess.Popen):
    output, errors = process.communicate(timeout=240)
    assert process.returncode == 0, output + errors
    return json.loads(output.strip().splitlines()[-1])


@dataclass
class Panels:
    a: LivePanel
    b: LivePanel
    a_services: dict[str, int]  # on A, resold from B
    b_services: dict[str, int]
    reseller_key: str  # alice, a reseller on A
    a_key_on_b: str  # A's own account on B


IMPORTED = (
    "import json; from catalog.models import Service; print(json.dumps({s.provider_service_id: [s.pk, str(s.rate)]"
    " for s in Service.objects.filter(provider__name='B')}))"
)


@contextmanager
def started_panels(root: Path, *, embedded: bool = False) -> Iterator[Panels]:
    """Panel B (fast simulated services; a reseller account for A with 100) and panel A (reseller
    alice with 1000; provider B added and B's services imported with a 25 % markup by the
    operator commands, as a script would), each with web, worker and beat."""
    b = a = None
    try:
        b = LivePanel("B", root / "b", settings={"FULFILLMENT_MINUTE_SECONDS": "1"}, embedded=embedded)
        a = LivePanel("A", root / "a", embedded=embedded)
        setups = [b.create_database(B_SETUP), a.create_database(A_SETUP)]
        on_b, on_a = (_last_json(setup) for setup in setups)
        assert on_b["services"] == B_SERVICE_IDS, on_b
        ready = [b.spawn_workers(), a.spawn_workers()]
        b.spawn_web()
        a.spawn_web()
        b.wait_web()
        # The operator's scripted setup on A, against B's live API.
        provider_id = a.manage("provider_add", "B", b.api_url, on_b["key"], "--markup", "25").strip().splitlines()[-1]
        assert provider_id.isdigit() and on_b["key"] not in a.manage("provider_import", "B", *map(str, B_SERVICE_IDS.values()))
        imported = a.shell(IMPORTED)
        a_services = {name: imported[str(upstream_id)][0] for name, upstream_id in B_SERVICE_IDS.items()}
        # B's rates (4 and 100 per 1000) with the 25 % markup, exact to 6 places.
        assert {name: imported[str(upstream_id)][1] for name, upstream_id in B_SERVICE_IDS.items()} == {
            "fast": "5.000000", "short": "5.000000", "slow": "5.000000", "pricey": "125.000000",
        }
        a.wait_web()
        for processes in ready:
            LivePanel.wait_ready(*processes)
        yield Panels(a, b, a_services, on_b["services"], on_a["key"], on_b["key"])
    finally:
        for panel in (a, b):
            if panel is not None:
                panel.stop()


@pytest.fixture(scope="module")
def live_panels(tmp_path_factory) -> Iterator[Panels]:
    """Two panels on PostgreSQL, each with a private redis-server (see started_panels)."""
    with started_panels(tmp_path_factory.mktemp("panels")) as panels:
        yield panels
