"""The API reference page (/api/) in Django's client: public HTML next to an API that still answers
JSON on its own paths; it lists every action, type and error the code has; the admin links it.
(Its examples are checked in test_api_examples.py, its look in smmpanel/tests/test_api_docs_browser.py.)
"""
from __future__ import annotations

import inspect
import json

import pytest
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions as drf

from catalog.service_types import TYPE_SPECS
from orders.api.errors import error_message
from orders.api.reference import ACTION_DOCS, ERRORS, action_groups, error_pattern
from smmpanel import errors
from smmpanel.tests.admin_helpers import operator

API_PATHS = ("/api/v2", "/api/v2/", "/api/v1", "/api/v1/", "/api.php", "/api.php/")


def test_docs_page_is_public_html(client):
    response = client.get("/api/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert '<code id="endpoint">http://testserver/api/v2</code>' in html
    for group in action_groups():
        assert f'id="action-{group.key}"' in html, group.key
    for kind in TYPE_SPECS:
        assert f"<strong>{kind}</strong>" in html, kind
    assert "<script" not in html and "<link" not in html  # self-contained: no JS, no external CSS


def test_docs_page_answers_get_only(client):
    assert client.head("/api/").status_code == 200
    assert client.post("/api/").status_code == 405


@pytest.mark.parametrize("path", API_PATHS)
def test_api_paths_still_answer_json(client, path):
    for response in (client.post(path, {"action": "balance"}), client.get(path, {"action": "balance"})):
        assert response.status_code == 200, path  # never a redirect
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {"error": "Invalid API key"}


def test_every_action_is_documented():
    undocumented = [group.key for group in action_groups() if group.key not in ACTION_DOCS]
    assert not undocumented, f"add an ActionDoc to ACTION_DOCS in orders/api/reference.py for {undocumented}"


def _messages_of(error_class) -> list[str]:
    """The messages a DomainError subclass answers, with the table's placeholders for its variables."""
    if error_class is errors.InvalidParameter:
        return [error_class("NAME").message]
    if error_class is errors.QuantityOutOfBounds:
        return [error_class.below("MIN").message, error_class.above("MAX").message]
    return [error_class().message]


def test_every_error_the_api_can_answer_is_documented():
    internal = {errors.DomainError, errors.IllegalTransition}  # never reach a reseller
    domain = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
              if issubclass(cls, errors.DomainError) and cls not in internal]
    transport = [error_message(exc) for exc in (RequestDataTooBig(), drf.ParseError(), drf.MethodNotAllowed("PUT"))]
    messages = [message for cls in domain for message in _messages_of(cls)] + transport + ["Internal error"]

    undocumented = [m for m in messages if not any(error_pattern(doc.message).fullmatch(m) for doc in ERRORS)]
    assert not undocumented, f"add these to ERRORS in orders/api/reference.py: {undocumented}"


def test_error_table_on_the_page_matches_the_code(client):
    html = client.get("/api/").content.decode()
    names = {group.key for group in action_groups()}
    for doc in ERRORS:
        shown = f'<td class="error-msg">{doc.message}</td>' in html.replace("&#x27;", "'")
        assert shown == (doc.action is None or doc.action in names), doc.message


@pytest.mark.django_db
def test_admin_links_the_docs(client):
    client.force_login(operator("root", superuser=True))

    for path in ("/admin/", "/admin/orders/order/"):
        assert '<a href="/api/" id="api-docs-link">API docs</a>' in client.get(path).content.decode(), path
