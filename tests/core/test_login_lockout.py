"""Login throttling (django-axes): per username and address, 5 failures lock out for 15
minutes; the login page and the admin's login say so; `axes_reset` lifts it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery"


@pytest.fixture
def user():
    user = UserFactory(username="vic")
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(
    client: Client, password: str, address: str = "10.0.0.1", path: str = "/accounts/login/"
):
    return client.post(path, {"username": "vic", "password": password}, REMOTE_ADDR=address)


def test_defaults_are_five_failures_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0].startswith("axes.")


def test_five_wrong_passwords_lock_the_user_out_from_that_address(client, user):
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "for 15 minutes" in locked.content.decode()
    # Even the right password is refused now, from that address...
    assert _login(client, PASSWORD).status_code == 429
    # ...but not from another one: a stranger cannot lock someone out everywhere.
    assert _login(Client(), PASSWORD, address="10.0.0.2").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, user):
    for _ in range(5):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert _login(client, PASSWORD).status_code == 302


def test_axes_reset_lifts_the_lockout(client, user):
    for _ in range(5):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 429
    call_command("axes_reset")
    assert _login(client, PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client, user):
    user.is_staff = True
    user.save()
    for _ in range(5):
        _login(client, "wrong", path="/admin/login/")
    locked = _login(client, PASSWORD, path="/admin/login/")
    assert locked.status_code == 429
    # One count for both doors: the login page is locked for that pair as well.
    assert _login(client, PASSWORD).status_code == 429
