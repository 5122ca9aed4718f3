"""The API benchmark's panel: bench/tick.py's seed (orders in flight over many accounts, each
with its ledger), plus a catalog of N services, an API key per account and one hot account.
Then the request bodies the load script sends, written to a file it reads.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench import tick

BODIES_PER_SCENARIO = 10_000
IDS_PER_STATUS_CALL = 100  # the API's limit for one `orders=` list
ADD_QUANTITY = 100
HOT_BALANCE = Decimal("1000000")
# Names and description sized so that the 2 000-service answer is about issue #8's 418 KB.
DESCRIPTION = "Start: 0-1 h. Speed: 10K/day."


@dataclass
class Panel:
    accounts: list[tuple[int, str]]  # (account id, API key), the seeded resellers
    hot: tuple[int, str]  # the one account every `add-hot` request charges
    add_service: int  # a Default service that takes ADD_QUANTITY
    services: int  # active services in the catalog
    orders_by_account: dict[int, list[int]] = field(default_factory=dict)
    seconds: float = 0.0


def seed_panel(*, n_orders: int, n_accounts: int, n_services: int, rnd: random.Random) -> Panel:
    """Fill the (empty, migrated) database Django points at."""
    from accounts.models import Account
    from accounts.services import apikey_issue, reseller_create
    from catalog.models import Category, Service
    from orders.models import Order

    started = time.perf_counter()
    tick.seed(n_orders, n_accounts, rnd)  # its four services come first in the catalog
    add_service = Service.objects.order_by("pk").values_list("pk", flat=True).first()
    extra = n_services - Service.objects.count()
    categories = Category.objects.bulk_create(
        Category(name=f"{platform} {kind}", platform=platform.lower(), sort_order=i)
        for i, (platform, kind) in enumerate(
            (p, k) for p in ("Instagram", "TikTok", "YouTube", "Telegram", "Twitter")
            for k in ("Followers", "Likes", "Views", "Comments")
        )
    )
    Service.objects.bulk_create(
        Service(
            category=categories[i % len(categories)],
            name=f"{categories[i % len(categories)].name} [server {i}]",
            rate=Decimal(rnd.randint(10, 500_000)) / 10_000,
            min_quantity=rnd.choice((10, 50, 100)),
            max_quantity=rnd.choice((10_000, 100_000, 1_000_000)),
            refill=rnd.random() < 0.5,
            cancel=rnd.random() < 0.7,
            dripfeed=rnd.random() < 0.3,
            description=DESCRIPTION,
            sort_order=i,
        )
        for i in range(max(0, extra))
    )

    # Issued as operators issue them (digest at rest), one per seeded account.
    keys = {account.pk: apikey_issue(account=account, label="bench")[1] for account in Account.objects.order_by("pk")}
    hot_account, hot_key = reseller_create(username="bench-hot", balance=HOT_BALANCE)

    orders_by_account: dict[int, list[int]] = {}
    for account_id, order_id in Order.objects.values_list("account_id", "pk").order_by("pk").iterator(chunk_size=20_000):
        orders_by_account.setdefault(account_id, []).append(order_id)
    return Panel(
        accounts=sorted(keys.items()),
        hot=(hot_account.pk, hot_key),
        add_service=add_service,
        services=Service.objects.filter(is_active=True).count(),
        orders_by_account=orders_by_account,
        seconds=time.perf_counter() - started,
    )


def request_bodies(panel: Panel, rnd: random.Random) -> dict[str, list[str]]:
    """Form bodies per scenario, as clients send them (`key` and `action` first).

    `account=` is for the reference views, which look no key up; the API ignores it. `add`
    bodies end with `link=`: the load script appends a link unique to each request.
    """
    with_orders = [(pk, key) for pk, key in panel.accounts if panel.orders_by_account.get(pk)]
    pollers = [(pk, key) for pk, key in with_orders if len(panel.orders_by_account[pk]) >= IDS_PER_STATUS_CALL]
    if not with_orders or not pollers:
        raise SystemExit(
            f"No account has {IDS_PER_STATUS_CALL} orders for the 100-id status scenario: "
            "raise --orders or lower --accounts"
        )
    status, status100 = [], []
    for _ in range(BODIES_PER_SCENARIO):
        pk, key = rnd.choice(with_orders)
        status.append(f"key={key}&action=status&order={rnd.choice(panel.orders_by_account[pk])}")
    for _ in range(BODIES_PER_SCENARIO // 5):
        pk, key = rnd.choice(pollers)
        ids = rnd.sample(panel.orders_by_account[pk], IDS_PER_STATUS_CALL)
        status100.append(f"key={key}&action=status&orders={'%2C'.join(map(str, ids))}")
    add_fields = f"action=add&service={panel.add_service}&quantity={ADD_QUANTITY}"
    hot_pk, hot_key = panel.hot
    return {
        "status": status,
        "status100": status100,
        "balance": [f"key={key}&action=balance&account={pk}" for pk, key in panel.accounts],
        "add": [f"key={key}&{add_fields}&account={pk}&link=" for pk, key in panel.accounts],
        "add-hot": [f"key={hot_key}&{add_fields}&account={hot_pk}&link="],
        "services": [f"key={key}&action=services" for _, key in panel.accounts],
    }


def write_bodies(path: Path, bodies: dict[str, list[str]]) -> None:
    """One `scenario<TAB>body` line per body: bench/wrk/api.lua reads its scenario's lines."""
    with path.open("w") as out:
        for scenario, lines in bodies.items():
            for body in lines:
                out.write(f"{scenario}\t{body}\n")


def fresh_panel(stack, database_url: str, *, keep: bool, n_orders: int, n_accounts: int, n_services: int,
                seed: int, bodies: Path) -> Panel:
    """Recreate the bench database Django points at (dropped again when `stack` closes, unless
    `keep`), migrate and seed it, VACUUM ANALYZE, and write the request bodies to `bodies`."""
    from django.core.management import call_command
    from django.db import connection

    db = tick.db_name(database_url)
    print(f"Creating and seeding {db} …", flush=True)
    tick.recreate(database_url, db)
    if not keep:
        stack.callback(drop_database, database_url, db)
    call_command("migrate", verbosity=0)
    rnd = random.Random(seed)
    panel = seed_panel(n_orders=n_orders, n_accounts=n_accounts, n_services=n_services, rnd=rnd)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    write_bodies(bodies, request_bodies(panel, rnd))
    return panel


def drop_database(url: str, name: str) -> None:
    from django.db import connection

    connection.close()
    tick.admin_execute(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
