"""The deployment docs say what the files do: every `.env` variable docs/deploy.md lists reaches the
containers, every variable settings.py reads is in README's table, and only web keeps its metrics
in an emptied-at-start directory.
"""
from __future__ import annotations

import re

import yaml

from orders.tests.live_processes import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()


def _table_after(text: str, heading: str) -> list[str]:
    """The first-column names (`NAME`) of the table under `heading`."""
    section = text[text.index(heading):]
    rows = re.findall(r"^\| `(\w+)`", section.split("\n## ", 1)[0], re.M)
    assert rows, heading
    return rows


def test_every_documented_env_variable_reaches_the_containers():
    # A variable in .env only interpolates docker-compose.yml: a container sees it only if the
    # file passes it on (METRICS_TOKEN and LOG_FORMAT once were documented and silently ignored).
    for name in _table_after((ROOT / "docs" / "deploy.md").read_text(), "## Environment"):
        assert "${" + name in COMPOSE_TEXT, f"{name} is documented but docker-compose.yml never uses it"


def test_every_variable_settings_reads_is_in_the_readme():
    settings_text = (ROOT / "smmpanel" / "settings.py").read_text()
    read = set(re.findall(r"\benv(?:\.\w+)?\(\s*\"(\w+)\"", settings_text))
    read |= set(re.findall(r"os\.environ\.get\(\"(\w+)\"", (ROOT / "smmpanel" / "metrics.py").read_text()))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Documentation")]
    assert read - set(re.findall(r"`(\w+)`", table)) == set()


def test_only_web_counts_requests_in_a_tmpfs():
    services = yaml.safe_load(COMPOSE_TEXT)["services"]
    web = services["web"]
    directory = web["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    # A tmpfs is empty at every container start: no counts of an earlier run are added to the new ones.
    assert any(mount.split(":")[0] == directory for mount in web["tmpfs"])
    for name in ("migrate", "worker", "beat"):
        assert "PROMETHEUS_MULTIPROC_DIR" not in services[name]["environment"], name
