"""Health endpoints: `/health/live/` (database only) and `/health/` (database, cache, broker,
worker), through the test client and through a real gunicorn with production settings."""
from __future__ import annotations

import os
import sys
from decimal import Decimal

import pytest
import requests

from orders.tests.live_processes import Processes, database_url, wait_for
from smmpanel.tests.gunicorn_server import running_gunicorn


@pytest.mark.django_db
def test_liveness_answers_ok_with_the_database_up(client):
    response = client.get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_liveness_answers_503_without_the_database(client, monkeypatch):
    from django.db import OperationalError, connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/health/live/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", [{"data": {"format": "json"}}, {"HTTP_ACCEPT": "application/json"}])
def test_full_report_as_json_without_login(client, how):
    response = client.get("/health/", **how)
    assert response["Content-Type"] == "application/json"
    report = response.json()
    assert report["Database(alias='default')"] == "OK"
    assert report["Cache(alias='default')"] == "OK"
    # The test process's broker is the embedded filesystem one: reachable, but no worker runs.
    assert report["Broker()"] == "OK"
    assert report["Worker()"] == "Unavailable: Celery workers unavailable"
    assert response.status_code == 500  # a failing check makes the whole report fail


@pytest.mark.django_db(transaction=True)
def test_full_report_as_html(client):
    response = client.get("/health/")
    assert response["Content-Type"].startswith("text/html")
    assert b"Database" in response.content


@pytest.mark.postgres
def test_gunicorn_serves_liveness_and_the_api_with_production_settings(transactional_db, tmp_path):
    from accounts.tests.factories import reseller_with_key
    from catalog.tests.factories import ServiceFactory
    from orders.models import Order

    reseller = reseller_with_key("alice", Decimal("100"))
    service = ServiceFactory(rate=Decimal("5"))
    with running_gunicorn(tmp_path, "--workers", "2") as (web, base):
        response = requests.get(f"{base}/health/live/", timeout=5)
        assert response.status_code == 200 and response.json() == {"status": "ok"}, response.text

        answer = requests.post(f"{base}/api/v2", data={
            "key": reseller.key, "action": "add", "service": service.pk,
            "link": "https://instagram.com/alice", "quantity": 1000,
        }, timeout=10)
        assert answer.status_code == 200, answer.text
        order = Order.objects.get(pk=answer.json()["order"])
        assert order.quantity == 1000 and order.charge == Decimal("5.00")

        # DEBUG is off: an unknown host is refused, and no debug page leaks.
        assert requests.get(f"{base}/health/live/", headers={"Host": "evil.example"}, timeout=5).status_code == 400
    assert not web.alive()


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_embedded_filesystem_broker_is_reported_live(client, settings, tmp_path):
    """`make run`'s broker polls its folders once a second: the ping must wait for that."""
    from orders.tests.live_processes import _use_broker
    from smmpanel.celery import app

    broker = tmp_path / "var" / "broker"
    folders = {name: broker / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    options = {
        "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
        "store_processed": False,
    }
    previous = app.conf.broker_url, app.conf.broker_transport_options
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    _use_broker(app, "filesystem://localhost/", options)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smmpanel.test_settings", "DATABASE_URL": database_url(),
           "VAR_DIR": str(tmp_path / "var"), "CELERY_BROKER_URL": "filesystem://localhost/"}
    group = Processes(tmp_path=tmp_path, env=env)
    try:
        group.spawn("worker", [sys.executable, "-m", "celery", "-A", "smmpanel", "worker", "--loglevel", "INFO",
                               "--pool", "solo", "-n", "fs@%h"])
        report = wait_for(
            lambda: (r := client.get("/health/", {"format": "json"}).json())["Worker()"] == "OK" and r,
            timeout=60, interval=0.5, message="the worker reported live",
        )
        assert set(report.values()) == {"OK"}
    finally:
        group.stop_all()
        _use_broker(app, *previous)
