"""Production settings pass Django's deployment checklist, and the https redirect spares the API.

`manage.py check --deploy` runs in a subprocess with the real settings module and a production
environment (DEBUG unset), as a container would start it.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]
CLEARED = ("DEBUG", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "SESSION_COOKIE_SECURE",
           "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER")


def production_env(tmp_path, **extra) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    env.update(
        DJANGO_SETTINGS_MODULE="smmpanel.settings",
        VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="panel.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
    )
    env.update(extra)
    return env


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_notices_a_missing_https_setting(tmp_path):
    # The check really runs against the settings: without the redirect it warns (security.W008).
    result = check_deploy(production_env(tmp_path, SECURE_SSL_REDIRECT="0"))
    assert result.returncode != 0
    assert "W008" in result.stdout + result.stderr


@pytest.fixture
def ssl_redirect(settings):
    # The production value; the exemptions are the real settings' (not overridden here).
    settings.SECURE_SSL_REDIRECT = True
    assert django_settings.SECURE_REDIRECT_EXEMPT


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/", "/api/v1", "/api.php", "/api.php/"])
def test_the_api_over_plain_http_is_answered_not_redirected(db, client, ssl_redirect, path):
    response = client.post(path, {"key": "nope", "action": "balance"}, secure=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "Invalid API key"}


def test_health_is_not_redirected(db, client, ssl_redirect):
    response = client.get("/health/live/", secure=False)
    assert response.status_code != 301


def test_the_admin_over_plain_http_is_redirected_to_https(db, client, ssl_redirect):
    response = client.get("/admin/login/", secure=False)
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert client.get("/admin/login/", secure=True).status_code == 200
