#!/usr/bin/env python
"""Benchmark: one full fulfillment tick over N In progress orders, against one raw SQL UPDATE.

    .venv/bin/python bench/tick.py [--orders 100000] [--runs 5] [--database-url postgres://…/smmpanel_bench]

What it does (see bench/README.md):

1. drops and recreates the seed database named in --database-url, migrates it, fills it with N
   In progress orders over many accounts and a few services (COPY), VACUUM ANALYZE;
2. for each run, clones the seed (CREATE DATABASE … TEMPLATE), loads it into shared buffers and
   times one `orders.engine.tick(now=T)`; then clones it again and times one raw
   `UPDATE orders_order SET remains = …` with the same arithmetic over the same rows;
3. writes the "## Fulfillment tick" section of bench/REPORT.md and the plot bench/tick.png.

Every run starts from the same state, so the runs are comparable and the tick does the same work
each time: every order advanced, a few per cent Completed and a few per cent Partial (refunded).
Not a test: nothing here asserts a time. It checks that the tick did what it should, though.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/smmpanel_bench"
SECTION = "## Fulfillment tick"
TARGET_SECONDS = 3.0  # for 100 000 orders
TARGET_RATIO = 0.6
# The instant every run ticks at; the seed is laid out as if the previous tick ran 5 s earlier.
T = datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt_timezone.utc)
PREVIOUS_TICK = T - timedelta(seconds=5)
# name, speed (units/minute), share of orders, rate per 1000
SERVICES = [
    ("Instagram Followers [slow]", 60, 0.25, Decimal("1.200000")),
    ("Instagram Likes", 300, 0.35, Decimal("0.450000")),
    ("TikTok Views", 2000, 0.25, Decimal("0.012345")),
    ("YouTube Views [fast]", 10000, 0.15, Decimal("0.850000")),
]
SHARE_FINISHING = 0.05  # orders whose delivery ends between the previous tick and T
SHARE_SHORT = 0.40  # of those, the share that stops short (→ Partial, refunded); the rest Complete
SHARE_SHORT_LATER = 0.05  # of the others, short orders that stop after T (stay In progress)

# The same arithmetic as orders.sql.remains_at(), written out: the drip-feed branch too (the seed
# has no drip-feed orders, but every row pays for the CASE test, as in the tick).
_ELAPSED = "(%(now)s - EXTRACT(EPOCH FROM deliver_from)::float8)"
_RUN = f'GREATEST(0.0, LEAST(runs - 1, floor({_ELAPSED} / ("interval" * 60.0))))'
RAW_SQL = f"""
UPDATE orders_order
   SET remains = LEAST(remains, quantity - GREATEST(0, LEAST(sim_limit,
                   CASE WHEN runs IS NOT NULL AND sim_speed::float8 * "interval" >= quantity / runs
                        THEN {_RUN} * (quantity / runs) + GREATEST(0.0, LEAST(quantity / runs,
                             floor(sim_speed * ({_ELAPSED} - {_RUN} * ("interval" * 60.0)) / 60.0)))
                        ELSE floor(sim_speed * {_ELAPSED} / 60.0) END))::integer),
       updated_at = %(at)s
 WHERE status = 'In progress' AND hold_reason = ''
"""


# --------------------------------------------------------------------------------------------
# Databases


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def db_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name or ""):
        raise SystemExit(f"--database-url needs a plain lower-case database name, not {name!r}")
    return name


def admin_execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def recreate(url: str, name: str, template: str | None = None) -> None:
    clone = f" TEMPLATE {template}" if template else ""
    admin_execute(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}{clone}")


def use_database(name: str) -> None:
    """Point Django's default connection at another database (closing the current one)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def fresh_clone(url: str, run_db: str, seed_db: str) -> None:
    """Django's connection on a new copy of the seed, its tables and indexes in shared buffers."""
    use_database("postgres")
    recreate(url, run_db, template=seed_db)
    use_database(run_db)
    prewarm()


def prewarm() -> None:
    """Load the tables and indexes into shared buffers: each run starts as warm as a busy panel."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"""
        )


# --------------------------------------------------------------------------------------------
# Seed data


@dataclass
class Seeded:
    orders: int
    accounts: int
    expect_completed: int = 0
    expect_partial: int = 0
    seconds: float = 0.0
    table_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def amount(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def seed(n_orders: int, n_accounts: int, rnd: random.Random, history: int = 0) -> Seeded:
    from django.db import connection

    from catalog.models import Category, Service

    started = time.perf_counter()
    category = Category.objects.create(name="Bench", platform="instagram")
    services = [
        Service.objects.create(
            category=category, name=name, rate=rate, min_quantity=10, max_quantity=1_000_000,
            speed_per_minute=speed, start_delay_seconds=0, shortfall_percent=2,
        )
        for name, speed, _, rate in SERVICES
    ]
    weights = [share for _, _, share, _ in SERVICES]
    result = Seeded(orders=n_orders, accounts=n_accounts)
    created = PREVIOUS_TICK - timedelta(days=1)
    deposit = Decimal("1000000.00000")

    def delivered(speed: int, start: datetime, at: datetime, limit: int) -> int:
        elapsed = (at - start).total_seconds()
        return max(0, min(limit, int(speed * elapsed // 60)))

    orders = io.StringIO()
    # Finished orders from before (lower ids, as in a panel that has run for a while): the tick
    # must find its In progress orders among them. Their charges are left out of the ledger.
    for pk in range(1, history + 1):
        service = rnd.choices(services, weights)[0]
        quantity = rnd.choice((100, 1000, 5000))
        link = f"https://instagram.com/old_{pk}"
        orders.write(
            f"{pk}\t{rnd.randint(1, n_accounts)}\t{service.pk}\t{link}\t{link}\t{quantity}\t0.00000\t{pk}\t0\t"
            f"Completed\t\t\\N\t\\N\t{{}}\t0\t{created.isoformat()}\t{service.speed_per_minute}\t{quantity}\t{pk}\t"
            f"\\N\t\t{created.isoformat()}\t{created.isoformat()}\t\t0\n"
        )
    ledger_rows: list[tuple] = []
    spent = [Decimal(0)] * (n_accounts + 1)
    for pk in range(history + 1, history + n_orders + 1):
        service = rnd.choices(services, weights)[0]
        speed = service.speed_per_minute
        quantity = rnd.choice((100, 250, 500, 1000, 2500, 5000, 10000, 50000))
        charge = amount(service.rate * quantity / 1000)
        account_id = rnd.randint(1, n_accounts)
        if rnd.random() < SHARE_FINISHING:
            short = rnd.random() < SHARE_SHORT
            limit = quantity * rnd.randint(20, 89) // 100 if short else quantity
            # Its last unit is due between the previous tick and T.
            seconds_to_limit = limit * 60 / speed
            start = T - timedelta(seconds=seconds_to_limit + rnd.uniform(0.01, 4.9))
            if delivered(speed, start, PREVIOUS_TICK, limit) >= limit:
                start = T - timedelta(seconds=seconds_to_limit)
            if short:
                result.expect_partial += 1
            else:
                result.expect_completed += 1
        else:
            short = rnd.random() < SHARE_SHORT_LATER
            limit = quantity * rnd.randint(20, 89) // 100 if short else quantity
            # Somewhere before its end at T + 6 s or later.
            seconds_to_limit = limit * 60 / speed
            start = T - timedelta(seconds=max(0.0, rnd.uniform(0, seconds_to_limit) - 6))
        remains = quantity - delivered(speed, start, PREVIOUS_TICK, limit)
        link = f"https://instagram.com/bench_{pk}"
        orders.write(
            f"{pk}\t{account_id}\t{service.pk}\t{link}\t{link}\t{quantity}\t{charge}\t{10_000 + pk}\t{remains}\t"
            f"In progress\t\t\\N\t\\N\t{{}}\t0\t{start.isoformat()}\t{speed}\t{limit}\t{10_000 + pk}\t\\N\t\t"
            f"{created.isoformat()}\t{PREVIOUS_TICK.isoformat()}\t\t0\n"
        )
        spent[account_id] += charge
        ledger_rows.append((account_id, "charge", -charge, deposit - spent[account_id], pk))

    users = io.StringIO()
    accounts = io.StringIO()
    ledger = io.StringIO()
    for account_id in range(1, n_accounts + 1):
        users.write(f"{account_id}\t!\t\\N\tf\tbench{account_id}\t\t\t\tf\tt\t{created.isoformat()}\n")
        accounts.write(f"{account_id}\t{account_id}\t{deposit - spent[account_id]}\tt\t{created.isoformat()}\n")
        ledger.write(f"{account_id}\tdeposit\t{deposit}\t{deposit}\t\\N\tOpening balance\t\\N\t{created.isoformat()}\n")
    for account_id, kind, value, balance_after, order_id in ledger_rows:
        ledger.write(f"{account_id}\t{kind}\t{value}\t{balance_after}\t{order_id}\t\t\\N\t{created.isoformat()}\n")

    copies = [
        ("auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, "
         "is_staff, is_active, date_joined)", users),
        ("accounts_account (id, user_id, balance, is_active, created_at)", accounts),
        ("orders_order (id, account_id, service_id, link, link_normalized, quantity, charge, start_count, "
         "remains, status, hold_reason, runs, interval, extra, attempts, deliver_from, sim_speed, sim_limit, "
         # NOT NULL columns have no database default (Django sets them): provider_status, provider_failures.
         "sim_start_count, idempotency_key, request_fingerprint, created_at, updated_at, provider_status, "
         "provider_failures)", orders),
        ("accounts_ledgerentry (account_id, kind, amount, balance_after, order_id, memo, created_by_id, "
         "created_at)", ledger),
    ]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        for target, buffer in copies:
            with raw.copy(f"COPY {target} FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        for table in ("auth_user", "accounts_account", "orders_order"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute("SELECT pg_total_relation_size('orders_order')")
        result.table_mb = cursor.fetchone()[0] / 2**20
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------------------------
# Timed work


@dataclass
class Timing:
    seconds: float  # wall time
    client_cpu: float  # CPU time of this process (Python, Django, psycopg)
    server_cpu: float | None  # CPU time of the PostgreSQL backend serving it (None: not local)


def _backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of Django's connection has used, when it runs here."""
    from django.db import connection

    try:
        fields = Path(f"/proc/{connection.connection.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return None


class timed:
    def __enter__(self):
        self.server = _backend_cpu()
        self.cpu = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.started
        cpu = time.process_time() - self.cpu
        server = _backend_cpu()
        self.timing = Timing(seconds, cpu, None if server is None or self.server is None else server - self.server)


def time_tick(expected: Seeded) -> tuple[Timing, dict]:
    from orders import engine

    with timed() as t:
        moved = engine.tick(now=T)
    check_tick(moved, expected)
    return t.timing, moved


def time_raw_update(n_orders: int) -> Timing:
    from django.db import connection, transaction

    with connection.cursor() as cursor, timed() as t:
        with transaction.atomic():
            cursor.execute(RAW_SQL, {"now": T.timestamp(), "at": T})
            rows = cursor.rowcount
    if rows != n_orders:
        raise SystemExit(f"the raw UPDATE touched {rows} rows, expected {n_orders}")
    return t.timing


def check_tick(moved: dict, expected: Seeded) -> None:
    """The tick did the work it is timed for, and money still adds up."""
    from django.db import connection

    problems = []
    if moved.get("advanced") != expected.orders:
        problems.append(f"advanced {moved.get('advanced')} of {expected.orders} orders (tick budget hit?)")
    if moved.get("completed") != expected.expect_completed:
        problems.append(f"completed {moved.get('completed')}, expected {expected.expect_completed}")
    if moved.get("partial") != expected.expect_partial:
        problems.append(f"partial {moved.get('partial')}, expected {expected.expect_partial}")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT
                 (SELECT count(*) FROM accounts_ledgerentry WHERE kind = 'refund'),
                 (SELECT count(*) FROM accounts_account a
                   WHERE a.balance <> (SELECT sum(amount) FROM accounts_ledgerentry l WHERE l.account_id = a.id)),
                 (SELECT count(*) FROM orders_order o WHERE o.status = 'In progress' AND o.remains <> o.quantity -
                    GREATEST(0, LEAST(o.sim_limit, floor(o.sim_speed * (%s - EXTRACT(EPOCH FROM o.deliver_from)::float8) / 60.0)))),
                 (SELECT count(*) FROM orders_order o WHERE o.status = 'Partial' AND o.remains <> o.quantity - o.sim_limit)""",
            [T.timestamp()],
        )
        refunds, unbalanced, wrong_remains, wrong_partial = cursor.fetchone()
    if refunds != expected.expect_partial:
        problems.append(f"{refunds} refunds, expected {expected.expect_partial}")
    if unbalanced:
        problems.append(f"{unbalanced} accounts whose balance is not the sum of their ledger")
    if wrong_remains or wrong_partial:
        problems.append(f"{wrong_remains} In progress and {wrong_partial} Partial orders with wrong remains")
    if problems:
        raise SystemExit("The tick did not do its work: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# Machine, report, plot


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": str(cores), "ram": ram, "os": f"{platform.system()} {platform.release()}"}


def versions() -> dict[str, str]:
    import django
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "synchronous_commit", "max_wal_size"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "PostgreSQL": server + " (" + ", ".join(f"{k} {v}" for k, v in settings.items()) + ")",
        "psycopg": f"{psycopg.__version__} (libpq {psycopg.pq.version()})",
    }


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def fmt_int(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def fmt_cpu(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def runs_row(label: str, values: list[float], places: int = 3) -> str:
    cells = " | ".join(f"{v:.{places}f}" for v in values)
    return f"| {label} | {cells} | **{statistics.median(values):.{places}f}** |"


def write_report(path: Path, section: str, heading: str = SECTION) -> None:
    """Replace the section that starts with `heading` (or append it); other sections stay as they are."""
    intro = (
        '# Benchmarks\n'
        '\n'
        'Figures measured by the scripts in `bench/` (bench/README.md says how to run them and how to read\n'
        'them), on the machine each section names. Each section is rewritten by its own script —\n'
        '`## Reseller API` by bench/api.py (`make bench`), `## Fulfillment tick` by bench/tick.py,\n'
        '`## Profiles` by bench/profile_api.py (`make bench-profile`) — and the others are left as they are;\n'
        'the "what was tried" sections are written by hand.\n'
        '\n'
        "The API section defines its own terms (req/s, p50/p99, ratios to its baselines). In the tick's:\n"
        '\n'
        "- **seconds**: wall time of the timed operation, as the panel's own code sees it (Python\n"
        '  included), median (p50) of the runs; every run starts from the same database state.\n'
        '- **rows/s**: rows the operation advanced divided by its seconds.\n'
        "- **ratio**: the operation's rows/s divided by the rows/s of one raw SQL statement doing the\n"
        '  same arithmetic on the same rows in the same run: 1.0 means as fast as the database itself\n'
        '  can do it in one statement; it is what makes figures from different machines comparable.\n'
    )
    text = path.read_text() if path.exists() else intro
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)  # the blank line before the next section
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def plot(path: Path, n_orders: int, ticks: list[float], raws: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    runs = range(1, len(ticks) + 1)
    left.plot(runs, ticks, "o-", label="engine.tick()")
    left.plot(runs, raws, "s-", label="raw SQL UPDATE")
    if n_orders == 100_000:
        left.axhline(TARGET_SECONDS, color="grey", linestyle="--", linewidth=1, label=f"target {TARGET_SECONDS:g} s")
    left.set_xlabel("run")
    left.set_ylabel("seconds")
    left.set_ylim(bottom=0)
    left.set_xticks(list(runs))
    left.set_title(f"{n_orders:,} orders In progress".replace(",", " "))
    left.legend(fontsize=8)
    tick_rate = rate(n_orders, statistics.median(ticks))
    raw_rate = rate(n_orders, statistics.median(raws))
    bars = right.bar(["engine.tick()", "raw SQL UPDATE"], [tick_rate / 1000, raw_rate / 1000], color=["C0", "C1"])
    right.bar_label(bars, labels=[f"{tick_rate / 1000:.0f}k", f"{raw_rate / 1000:.0f}k"])
    right.axhline(raw_rate * TARGET_RATIO / 1000, color="grey", linestyle="--", linewidth=1,
                  label=f"{TARGET_RATIO:g}× raw")
    right.set_ylabel("thousand rows/s (p50)")
    right.set_title(f"ratio {tick_rate / raw_rate:.2f}")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="In progress orders (default 100000)")
    parser.add_argument("--accounts", type=int, default=2_000, help="reseller accounts they belong to")
    parser.add_argument("--history", type=int, default=0,
                        help="finished (Completed) orders placed before them, default 0")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5); p50 is reported")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help=f"PostgreSQL database to (re)create for the seed (default {DEFAULT_URL}); "
                             "a second one, <name>_run, is cloned from it for each run")
    parser.add_argument("--report", type=Path, default=BENCH_DIR / "REPORT.md")
    parser.add_argument("--plot", type=Path, default=BENCH_DIR / "tick.png")
    parser.add_argument("--no-report", action="store_true", help="print the figures only")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the p50 figures to PATH as JSON (bench/api.py reads them for its summary)")
    parser.add_argument("--batch-size", type=int, help="override FULFILLMENT_BATCH_SIZE for this run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("The benchmark needs PostgreSQL (a postgres:// URL)")
    seed_db = db_name(args.database_url)
    if "bench" not in seed_db:
        raise SystemExit(f"Refusing to drop and recreate {seed_db!r}: give a database whose name contains 'bench'")
    run_db = f"{seed_db}_run"
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/tick.py", *sys.argv[1:]])

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="smmpanel-bench-var-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if args.batch_size:
        settings.FULFILLMENT_BATCH_SIZE = args.batch_size

    print(f"Creating {seed_db} …", flush=True)
    recreate(args.database_url, seed_db)
    call_command("migrate", verbosity=0)
    seeded = seed(args.orders, args.accounts, random.Random(args.seed), history=args.history)
    use_database(seed_db)
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    print(
        f"Seeded {args.orders} In progress orders over {args.accounts} accounts in {seeded.seconds:.1f} s "
        f"(orders table {seeded.table_mb:.0f} MB); the tick at T should complete {seeded.expect_completed} "
        f"and end {seeded.expect_partial} Partial",
        flush=True,
    )
    use_database(seed_db)
    env = versions()
    use_database(run_db)

    ticks: list[Timing] = []
    raws: list[Timing] = []
    load_before = os.getloadavg()[0]
    try:
        for run in range(1, args.runs + 1):
            fresh_clone(args.database_url, run_db, seed_db)
            timing, moved = time_tick(seeded)
            ticks.append(timing)
            fresh_clone(args.database_url, run_db, seed_db)
            raws.append(time_raw_update(args.orders))
            print(
                f"run {run}: tick {ticks[-1].seconds:.3f} s ({fmt_rate(rate(args.orders, ticks[-1].seconds))} rows/s; "
                f"CPU {ticks[-1].client_cpu:.2f} s Python + {fmt_cpu(ticks[-1].server_cpu)} s PostgreSQL), "
                f"raw UPDATE {raws[-1].seconds:.3f} s ({fmt_rate(rate(args.orders, raws[-1].seconds))} rows/s; "
                f"CPU {fmt_cpu(raws[-1].server_cpu)} s PostgreSQL), ratio {raws[-1].seconds / ticks[-1].seconds:.2f}",
                flush=True,
            )
    finally:
        use_database("postgres")
        admin_execute(args.database_url, f"DROP DATABASE IF EXISTS {run_db} WITH (FORCE)")
    load_after = os.getloadavg()[0]

    tick_s, raw_s = [t.seconds for t in ticks], [t.seconds for t in raws]
    tick_p50, raw_p50 = statistics.median(tick_s), statistics.median(raw_s)
    tick_rate, raw_rate = rate(args.orders, tick_p50), rate(args.orders, raw_p50)
    ratio = tick_rate / raw_rate
    meets = tick_p50 < TARGET_SECONDS * args.orders / 100_000 and ratio >= TARGET_RATIO
    print(
        f"p50 of {args.runs}: tick {tick_p50:.3f} s = {fmt_rate(tick_rate)} rows/s; raw UPDATE {raw_p50:.3f} s = "
        f"{fmt_rate(raw_rate)} rows/s; ratio {ratio:.2f} ({'meets' if meets else 'misses'} the target)"
    )
    if args.json:
        args.json.write_text(json.dumps({
            "command": command, "orders": args.orders, "runs": args.runs, "tick_seconds": tick_p50,
            "raw_seconds": raw_p50, "tick_rows_per_s": tick_rate, "raw_rows_per_s": raw_rate, "ratio": ratio,
            "tick_seconds_runs": tick_s, "target_seconds": TARGET_SECONDS, "target_ratio": TARGET_RATIO, "met": meets,
        }))
    if args.no_report:
        return

    m = machine()
    stamp = datetime.now(dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = "| | " + " | ".join(f"run {i}" for i in range(1, args.runs + 1)) + " | p50 |"
    rows = [
        runs_row("tick, s", tick_s),
        runs_row("raw UPDATE, s", raw_s),
        runs_row("ratio (raw s / tick s)", [r / t for t, r in zip(tick_s, raw_s)], places=2),
        runs_row("tick CPU, Python, s", [t.client_cpu for t in ticks], places=2),
    ]
    if all(t.server_cpu is not None for t in ticks + raws):
        rows += [
            runs_row("tick CPU, PostgreSQL backend, s", [t.server_cpu for t in ticks], places=2),
            runs_row("raw UPDATE CPU, PostgreSQL backend, s", [t.server_cpu for t in raws], places=2),
        ]
    history_note = (
        f" The table also holds {fmt_int(args.history)} Completed orders with lower ids (`--history`)."
        if args.history else ""
    )
    table = "\n".join([header, "|---|" + "---|" * args.runs + "---|", *rows])
    section = f"""{SECTION}

`{command}` — {stamp}

One full `orders.engine.tick(now=T)` over **{fmt_int(args.orders)} orders In progress** ({fmt_int(args.accounts)}
accounts, {len(SERVICES)} services at {", ".join(str(s[1]) for s in SERVICES)} units/min), against one raw
`UPDATE orders_order SET remains = LEAST(remains, quantity - GREATEST(0, LEAST(sim_limit, CASE WHEN <paced drip-feed> THEN … ELSE floor(sim_speed × elapsed / 60) END))),
updated_at = T WHERE status = 'In progress' AND hold_reason = ''` over the same rows, in the same run.
Every timed operation starts from a fresh clone of the same seeded database, loaded into shared
buffers. The tick advances every order, completes {fmt_int(seeded.expect_completed)} and ends
{fmt_int(seeded.expect_partial)} Partial with one refund each (checked after every run, with the ledger
invariant). `FULFILLMENT_BATCH_SIZE` = {settings.FULFILLMENT_BATCH_SIZE}.{history_note}

| | seconds (p50) | rows/s | ratio to raw SQL |
|---|---|---|---|
| `engine.tick()` | **{tick_p50:.3f}** | **{fmt_rate(tick_rate)}** | **{ratio:.2f}** |
| raw SQL UPDATE | {raw_p50:.3f} | {fmt_rate(raw_rate)} | 1.00 |

Target (issue): 100 000 orders under {TARGET_SECONDS:g} s on 2 cores, at least {TARGET_RATIO:g}× the raw-SQL rate:
**{"met" if meets else "missed"}**{"" if args.orders == 100_000 else f" (time scaled to {fmt_int(args.orders)} orders)"}.

{table}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["ram"]} RAM, {m["os"]}; PostgreSQL on the same machine;
1-minute load average {load_before:.2f} before the runs, {load_after:.2f} after (other work on the
machine shows up as spread between runs; the CPU rows are less sensitive to it than the seconds).
Versions: {"; ".join(f"{k} {v}" for k, v in env.items())}.

![tick](tick.png)
"""
    write_report(args.report, section)
    print(f"Wrote {shown(args.report)}")
    try:
        plot(args.plot, args.orders, tick_s, raw_s)
    except ImportError:
        print("No plot: matplotlib is missing (.venv/bin/pip install -r bench/requirements.txt)")
    else:
        print(f"Wrote {shown(args.plot)}")


def shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    main()
