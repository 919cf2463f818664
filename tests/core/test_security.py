"""Findings of the security review: open redirect, viewers' outbound calls, password
rules on the command line, the pages' Content-Security-Policy."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.core import services
from apps.core.models import Role
from tests.factories import MembershipFactory, ProviderFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/phish", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_the_project_switcher_does_not_follow_an_off_site_next(owner_client, owner, target):
    response = owner_client.post(
        "/projects/switch/", {"project_id": owner.project_id, "next": target}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_project_switcher_goes_back_to_the_page_it_was_on(owner_client, owner):
    response = owner_client.post(
        "/projects/switch/", {"project_id": owner.project_id, "next": "/runs/?status=FAILED"}
    )
    assert response["Location"] == "/runs/?status=FAILED"


@pytest.fixture
def no_outbound_call(monkeypatch):
    calls = []
    monkeypatch.setattr(
        services, "provider_test_connection", lambda *, provider: calls.append(provider) or ["m"]
    )
    return calls


def test_viewers_cannot_test_a_connection(no_outbound_call):
    """It calls out with the project's secret: editors only, in pages and the API."""
    viewer = MembershipFactory(role=Role.VIEWER)
    provider = ProviderFactory(project=viewer.project)
    client = Client()
    client.force_login(viewer.user)
    assert client.post(f"/providers/{provider.pk}/test/").status_code == 403
    api = Client().post(
        f"/api/v1/providers/{provider.pk}/test/", HTTP_X_API_KEY=api_key_for(viewer)
    )
    assert api.status_code == 403
    assert no_outbound_call == []
    assert "Test connection" not in client.get("/providers/").content.decode()


@pytest.mark.parametrize("role", [Role.OWNER, Role.MEMBER])
def test_editors_can_test_a_connection(no_outbound_call, role):
    member = MembershipFactory(role=role)
    provider = ProviderFactory(project=member.project)
    client = Client()
    client.force_login(member.user)
    assert "Test connection" in client.get("/providers/").content.decode()
    assert client.post(f"/providers/{provider.pk}/test/").status_code == 200
    api = Client().post(
        f"/api/v1/providers/{provider.pk}/test/", HTTP_X_API_KEY=api_key_for(member)
    )
    assert api.json() == {"ok": True, "models": ["m"]}
    assert len(no_outbound_call) == 2


def test_the_user_command_applies_the_password_validators():
    weak_passwords = [
        ("short1", "too short"),
        ("12345678901", "entirely numeric"),
        ("password123", "too common"),
        ("dora-the-explorer", "too similar"),
    ]
    for weak, why in weak_passwords:
        with pytest.raises(CommandError, match=why):
            call_command("seedbed_user", "dora-the-explorer", "--password", weak)
    call_command("seedbed_user", "dora", "--password", "tidal-quartz-81")


def test_pages_carry_a_content_security_policy_without_inline_script(owner_client):
    policy = owner_client.get("/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    # Only the API docs page (Swagger UI) may use inline styles; its script is a file.
    docs = owner_client.get("/api/docs/")
    assert "'unsafe-inline'" in docs["Content-Security-Policy"].split("style-src")[1]
    assert "<script>" not in docs.content.decode()
