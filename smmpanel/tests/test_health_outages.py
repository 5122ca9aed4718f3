"""`/health/` through outages, on a real gunicorn with production settings: a private Redis and a
private PostgreSQL cluster are stopped under it and started again, so the connections web (and the
worker) hold across the outage are real ones that break and must be replaced.

- Redis down: `/health/` fails cache, broker and worker; `/health/live/` stays 200 (liveness needs
  only the database) and `add` still takes orders. Redis back: every check passes again, and the
  order taken during the outage completes (the tick finds it; its wake-up was lost).
- PostgreSQL down: `/health/` fails the database, `/health/live/` answers 503 and the API
  `{"error": "Internal error"}` (HTTP 200, JSON, as every API answer). PostgreSQL back:
  both pass again, and every request after that succeeds — the stale persistent connections
  (CONN_MAX_AGE) are replaced, none is handed to a request.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from orders.models import Order, OrderStatus
from orders.tests.live_processes import Processes, database_url, private_redis, wait_for  # noqa: F401
from smmpanel.tests.stack import (  # noqa: F401 - private_postgres is a fixture
    all_ok,
    health_report,
    manage,
    private_postgres,
    production_env,
    run_compose_service,
    start_compose_service,
    start_gunicorn,
)

pytestmark = pytest.mark.postgres

EVERY_CHECK = ("Database(alias='default')", "Cache(alias='default')", "Broker()", "Worker()")


def wait_for_report(base: str, predicate, message: str) -> dict[str, str]:
    def look():
        report = health_report(base)
        return report if report is not None and predicate(*report) else None

    return wait_for(look, timeout=120, interval=0.5, message=message)[1]


def live_status(base: str) -> int:
    return requests.get(f"{base}/health/live/", timeout=30).status_code


def test_health_through_a_redis_outage(transactional_db, private_redis, tmp_path):
    from accounts.tests.factories import reseller_with_key
    from catalog.tests.factories import ServiceFactory

    reseller = reseller_with_key("alice", Decimal("100"))
    service = ServiceFactory(rate=Decimal("5"), start_delay_seconds=0, speed_per_minute=1000)
    var_dir = tmp_path / "var"

    def env(name: str) -> dict[str, str]:
        return production_env(name, database_url=database_url(), redis_url=private_redis.url, var_dir=var_dir,
                              FULFILLMENT_TICK_SECONDS="1", FULFILLMENT_MINUTE_SECONDS="1")

    def add(n: int) -> int:
        answer = requests.post(f"{base}/api/v2", data={
            "key": reseller.key, "action": "add", "service": service.pk,
            "link": f"https://instagram.com/outage{n}", "quantity": 1000,
        }, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["order"]

    group = Processes(tmp_path=tmp_path, env={})
    try:
        web, base = start_gunicorn(group, env("web"))
        start_compose_service(group, "worker", env("worker"), ready="ready.")
        start_compose_service(group, "beat", env("beat"), ready="beat: Starting")
        wait_for_report(base, lambda status, checks: all_ok((status, checks)), "every check to pass")

        private_redis.stop()
        down = wait_for_report(base, lambda status, checks: checks["Cache(alias='default')"] != "OK",
                               "/health/ to see Redis gone")
        down = wait_for_report(base, lambda status, checks: status == 500 and checks["Broker()"] != "OK"
                               and checks["Worker()"] != "OK", "/health/ to report broker and worker down")
        assert down["Database(alias='default')"] == "OK"
        assert down["Cache(alias='default')"] != "OK", down
        # Liveness needs only the database: web stays in rotation, and orders keep coming in.
        assert [live_status(base) for _ in range(4)] == [200] * 4
        during = [add(n) for n in range(2)]
        assert Order.objects.filter(pk__in=during, status=OrderStatus.PENDING).count() == 2
        log = web.log()
        assert "letting calls through" in log  # the rate limiter failed open
        assert "the tick will pick it up" in log  # the wake-up was dropped, not the order

        private_redis.start()  # the same port, empty: what a Redis without persistence comes back as
        back = wait_for_report(base, lambda status, checks: all_ok((status, checks)), "every check to pass again")
        assert set(back) == set(EVERY_CHECK)
        wait_for(lambda: Order.objects.filter(pk__in=during, status=OrderStatus.COMPLETED).count() == 2,
                 timeout=120, interval=0.5, message="the orders taken during the outage to complete")
    finally:
        group.stop_all()
    assert not any(process.alive() for process in group.started)


def test_health_through_a_postgres_outage(private_postgres, private_redis, tmp_path):
    database = private_postgres.create_database("panel")

    def env(name: str) -> dict[str, str]:
        # CONN_MAX_AGE stays the production default (60 s): web keeps its connections across requests.
        return production_env(name, database_url=database, redis_url=private_redis.url, var_dir=tmp_path / "var")

    run_compose_service("migrate", env("migrate"))
    key = manage(env("web"), "create_reseller", "alice", "--balance", "100").splitlines()[-1]

    def balance() -> dict:
        answer = requests.post(f"{base}/api/v2", data={"key": key, "action": "balance"}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    group = Processes(tmp_path=tmp_path, env={})
    try:
        web, base = start_gunicorn(group, env("web"))
        start_compose_service(group, "worker", env("worker"), ready="ready.")
        wait_for_report(base, lambda status, checks: all_ok((status, checks)), "every check to pass")
        for _ in range(4):  # both gunicorn workers now hold a connection
            assert balance() == {"balance": "100.00", "currency": "TRY"}

        private_postgres.stop()
        down = wait_for_report(base, lambda status, checks: checks["Database(alias='default')"] != "OK",
                               "/health/ to see PostgreSQL gone")
        assert down["Cache(alias='default')"] == down["Broker()"] == down["Worker()"] == "OK", down
        assert live_status(base) == 503
        # The API still answers as API.md says every answer is: HTTP 200, JSON, an error.
        assert balance() == {"error": "Internal error"}

        private_postgres.start()
        back = wait_for_report(base, lambda status, checks: all_ok((status, checks)), "every check to pass again")
        assert set(back) == set(EVERY_CHECK)
        # From here on nothing may fail: a stale connection handed to a request would.
        assert [live_status(base) for _ in range(6)] == [200] * 6
        for _ in range(6):
            assert balance() == {"balance": "100.00", "currency": "TRY"}
    finally:
        group.stop_all()
    assert not any(process.alive() for process in group.started)
