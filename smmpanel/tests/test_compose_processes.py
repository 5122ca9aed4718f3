"""The compose services' commands, run outside Docker with production settings (DEBUG off,
PostgreSQL, a private Redis as broker and cache): web's gunicorn (bound to a free port instead of
0.0.0.0:8000), and a Celery worker and beat started with exactly the `command` docker-compose.yml
gives them. An order placed through the API ends Completed, and `/health/` then reports every
check, the worker included, as OK.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from orders.models import Order, OrderStatus
from orders.tests.live_processes import Processes, database_url, private_redis, wait_for  # noqa: F401
from smmpanel.tests.stack import all_ok, health_report, production_env, start_compose_service, start_gunicorn

pytestmark = pytest.mark.postgres


def test_compose_commands_serve_the_api_and_complete_an_order(transactional_db, private_redis, tmp_path):
    from accounts.tests.factories import reseller_with_key
    from catalog.tests.factories import ServiceFactory

    reseller = reseller_with_key("alice", Decimal("100"))
    # 1000 units a simulated minute, and a minute lasts a second: the order completes within seconds.
    service = ServiceFactory(rate=Decimal("5"), start_delay_seconds=0, speed_per_minute=1000)
    var_dir = tmp_path / "var"
    knobs = {"FULFILLMENT_TICK_SECONDS": "1", "FULFILLMENT_MINUTE_SECONDS": "1"}

    def env(service_name: str) -> dict[str, str]:
        return production_env(service_name, database_url=database_url(), redis_url=private_redis.url,
                              var_dir=var_dir, **knobs)

    group = Processes(tmp_path=tmp_path, env={})
    try:
        _, base = start_gunicorn(group, env("web"))
        worker = start_compose_service(group, "worker", env("worker"), ready="ready.")
        beat = start_compose_service(group, "beat", env("beat"), ready="beat: Starting")

        answer = requests.post(f"{base}/api/v2", data={
            "key": reseller.key, "action": "add", "service": service.pk,
            "link": "https://instagram.com/alice", "quantity": 1000,
        }, timeout=30)
        assert answer.status_code == 200, answer.text
        order_id = answer.json()["order"]

        def completed():
            assert worker.alive(), worker.log()
            assert beat.alive(), beat.log()
            return Order.objects.filter(pk=order_id, status=OrderStatus.COMPLETED).exists()

        wait_for(completed, timeout=120, interval=0.5, message="the order to complete")
        status = requests.post(f"{base}/api/v2", data={"key": reseller.key, "action": "status", "order": order_id},
                               timeout=30).json()
        assert status == {"charge": "5.00", "start_count": status["start_count"], "status": "Completed",
                          "remains": 0, "currency": "TRY"}

        report = wait_for(lambda: (r := health_report(base)) and all_ok(r) and r, timeout=60, interval=0.5,
                          message="/health/ to pass")
        assert report[1] == {"Database(alias='default')": "OK", "Cache(alias='default')": "OK",
                             "Broker()": "OK", "Worker()": "OK"}
        # The compose command names no schedule file: beat keeps it under VAR_DIR, like everything else.
        assert list(var_dir.glob("celerybeat-schedule*")), sorted(p.name for p in var_dir.iterdir())
    finally:
        group.stop_all()
    assert not any(process.alive() for process in group.started)
