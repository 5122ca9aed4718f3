"""`/metrics` from a real gunicorn with several workers and the compose file's
PROMETHEUS_MULTIPROC_DIR: a scrape adds up the requests every worker answered, and it exposes
exactly the series docs/deploy.md documents.
"""
from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from orders.models import FulfillmentTick
from orders.tests.live_processes import ROOT, Processes, database_url, private_redis, wait_for  # noqa: F401
from smmpanel.tests.stack import compose_environment, production_env, start_gunicorn

pytestmark = pytest.mark.postgres

# The worker's pid, method, path and status on each access-log line: who answered what.
ACCESS_FORMAT = "access %(p)s %(m)s %(U)s %(s)s"
_ACCESS = re.compile(r"^access <(\d+)> (\w+) (\S+) (\d+)$", re.M)


def scrape(base: str) -> dict[tuple[str, tuple], float]:
    response = requests.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples, name: str, **labels) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    return sum(value for (n, have), value in samples.items() if n == name and set(labels.items()) <= set(have))


def documented_series() -> dict[str, set[str]]:
    """docs/deploy.md's metrics table: series name → its label names."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    rows = re.findall(r"^\| `(smm_\w+)(?:\{([\w,]*)\})?` \| (\w+) \|", text, re.M)
    assert rows, "docs/deploy.md lists no smm_ series"
    return {name: set(filter(None, labels.split(","))) for name, labels, _type in rows}


def exposed_series(samples) -> dict[str, set[str]]:
    """What a scrape exposes, named as documented: a histogram by its family name."""
    exposed: dict[str, set[str]] = {}
    for name, labels in samples:
        name = re.sub(r"_(bucket|count|sum|created)$", "", name) if "_duration_" in name else name
        exposed.setdefault(name, set()).update(key for key, _ in labels if key != "le")
    return exposed


def test_one_scrape_adds_up_every_gunicorn_worker_and_shows_every_documented_series(
        transactional_db, private_redis, tmp_path):
    assert "PROMETHEUS_MULTIPROC_DIR" in compose_environment("web"), "docker-compose.yml: web must set it"
    # Tick figures exist once a tick ran; the queue length once the broker is Redis.
    now = timezone.now()
    FulfillmentTick.objects.create(started_at=now - timedelta(seconds=3), finished_at=now - timedelta(seconds=2),
                                   duration_ms=800, moved={})
    env = production_env("web", database_url=database_url(), redis_url=private_redis.url, var_dir=tmp_path / "var")
    multiproc_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    assert not any(multiproc_dir.iterdir())

    group = Processes(tmp_path=tmp_path, env={})
    try:
        web, base = start_gunicorn(group, env, workers=3, extra=("--access-logformat", ACCESS_FORMAT))
        before = scrape(base)
        sent = Counter()
        served_by: set[str] = set()

        def get(path: str) -> None:
            requests.get(f"{base}{path}", timeout=30)
            sent[path] += 1

        for _ in range(10):
            get("/health/live/")
        get("/no-such-page")

        # /health/ takes a second (it waits that long for worker pings, and no worker runs here):
        # while one gunicorn worker answers, the next request goes to another. Rounds of three at
        # once until the access log shows /health/ answered by more than one process.
        def spread() -> bool:
            with ThreadPoolExecutor(max_workers=3) as pool:
                list(pool.map(lambda _: get("/health/"), range(3)))
            served_by.update(pid for pid, _, path, _ in _ACCESS.findall(web.log()) if path == "/health/")
            return len(served_by) > 1

        wait_for(spread, timeout=120, interval=0, message="/health/ answered by two gunicorn workers")
        after = scrape(base)
    finally:
        group.stop_all()
    assert not web.alive()

    def delta(name: str, **labels) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("smm_http_requests_total", route="health-live", method="GET", status="200") == sent["/health/live/"]
    assert delta("smm_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("smm_http_requests_total", route="health", method="GET") == sent["/health/"]
    assert delta("smm_http_request_duration_seconds_count", route="health", method="GET") == sent["/health/"]
    # Each process keeps its own file; the scrape read them all.
    pids = {path.stem.rpartition("_")[2] for path in multiproc_dir.glob("counter_*.db")}
    assert served_by <= pids and len(pids) > 1, (served_by, pids)

    documented, exposed = documented_series(), exposed_series(after)
    assert set(documented) == {name for name in exposed if name.startswith("smm_")}
    for name, labels in documented.items():
        assert exposed[name] == labels, name
