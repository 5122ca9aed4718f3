"""Admin login lockout (django-axes): a username is locked from one address after five wrong
passwords, the same username from elsewhere still gets in, and `manage.py axes_reset` lifts it.
"""
from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from smmpanel.tests.admin_helpers import PASSWORD, operator

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")


def log_in(address: str, password: str, username: str = "root"):
    """A fresh browser at `address` submitting the admin login form."""
    return Client(REMOTE_ADDR=address).post(f"{LOGIN}?next={INDEX}", {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and response.url == INDEX


@pytest.fixture
def root(db):
    return operator("root", superuser=True)


def test_five_wrong_passwords_lock_the_username_from_that_address_only(root):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert log_in("203.0.113.7", "wrong").status_code == 200  # the form again, with an error
    assert logged_in(log_in("203.0.113.7", PASSWORD)), "four failures do not lock"
    for _ in range(5):
        log_in("203.0.113.7", "wrong")

    locked = log_in("203.0.113.7", PASSWORD)

    assert locked.status_code == 429 and not logged_in(locked)
    assert logged_in(log_in("198.51.100.20", PASSWORD)), "another address still gets in"
    other_user = operator("sam", "Support")
    assert logged_in(log_in("203.0.113.7", PASSWORD, username=other_user.username)), "another user still gets in"

    call_command("axes_reset", stdout=StringIO())

    assert logged_in(log_in("203.0.113.7", PASSWORD))


def test_a_locked_out_address_gets_no_session(root):
    for _ in range(5):
        log_in("203.0.113.7", "wrong")
    browser = Client(REMOTE_ADDR="203.0.113.7")
    browser.post(LOGIN, {"username": "root", "password": PASSWORD})
    assert browser.get(INDEX).status_code == 302  # back to the login page
