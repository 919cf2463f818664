import re
from typing import Any

import pytest
from django.test import Client

from apps.core import services
from apps.core.models import Provider
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

FORM = {
    "name": "vllm",
    "kind": "openai",
    "base_url": "http://127.0.0.1:8001/v1",  # allow-listed below, as a team's own vLLM
    "structured_output": "json_schema",
    "max_concurrency": 4,
    "timeout_seconds": 30,
}


def test_provider_limits_are_checked_inline_with_their_ranges(owner_client, owner, settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8001"]
    before = Provider.objects.filter(project=owner.project).count()
    bad = {**FORM, "timeout_seconds": 0, "requests_per_minute": 0, "max_concurrency": 2000}
    page = owner_client.post("/providers/new/", bad).content.decode()
    assert 'id="id_timeout_seconds_error"' in page
    assert "Give more than 0 and at most 3,600 seconds." in page
    assert 'id="id_requests_per_minute_error"' in page
    assert 'id="id_max_concurrency_error"' in page
    assert "Constraint" not in page
    assert "Empty: no limit." in page  # what an empty limit means
    assert Provider.objects.filter(project=owner.project).count() == before

    response = owner_client.post("/providers/new/", {**FORM, "requests_per_minute": 600})
    assert response.status_code == 302
    created = Provider.objects.get(project=owner.project, name="vllm")
    assert (created.requests_per_minute, created.timeout_seconds) == (600, 30.0)


def test_a_new_provider_form_offers_no_key_to_keep_or_remove(owner_client, owner):
    new = owner_client.get("/providers/new/").content.decode()
    assert ">Base URL" in new and ">API key" in new
    assert "Remove the stored API key" not in new and "keep the current key" not in new

    provider = ProviderFactory(project=owner.project)
    edit = owner_client.get(f"/providers/{provider.pk}/edit/").content.decode()
    assert "Remove the stored API key" in edit and "Leave empty to keep the current key." in edit


def test_a_new_providers_capabilities_follow_its_kind_unless_chosen(owner_client, owner, settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8001"]
    new = owner_client.get("/providers/new/").content.decode()
    assert "Default for the kind" in new
    assert "Anthropic extended thinking (budget_tokens)" in new and "OpenAI reasoning_effort" in new
    assert re.search(r'<input type="checkbox" name="supports_tools"[^>]*checked', new)

    anthropic = {**FORM, "name": "claude", "kind": "anthropic", "supports_tools": "on"}
    assert owner_client.post("/providers/new/", anthropic).status_code == 302
    openai = {**FORM, "name": "gpt", "supports_tools": "on"}
    assert owner_client.post("/providers/new/", openai).status_code == 302
    o1 = {**FORM, "name": "o1", "thinking": "reasoning_effort"}  # tools unticked
    assert owner_client.post("/providers/new/", o1).status_code == 302
    made = {
        p.name: (p.thinking, p.supports_tools)
        for p in Provider.objects.filter(project=owner.project)
    }
    assert made["claude"] == ("anthropic", True)
    assert made["gpt"] == ("none", True)
    assert made["o1"] == ("reasoning_effort", False)


def test_capabilities_are_edited_on_the_form_and_shown_on_the_provider_page(
    owner_client, owner, settings
):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8001"]
    provider = ProviderFactory(
        project=owner.project, base_url=FORM["base_url"], thinking="none", supports_tools=True
    )
    edit = owner_client.get(f"/providers/{provider.pk}/edit/").content.decode()
    assert "Default for the kind" not in edit  # an existing provider says what it does

    changed = {**FORM, "name": provider.name, "thinking": "reasoning_effort"}
    assert owner_client.post(f"/providers/{provider.pk}/edit/", changed).status_code == 302
    provider.refresh_from_db()
    assert (provider.thinking, provider.supports_tools) == ("reasoning_effort", False)
    config = services.provider_config(provider=provider)
    assert (config.thinking, config.tools) == ("reasoning_effort", False)

    page = owner_client.get(f"/providers/{provider.pk}/").content.decode()
    assert '<td id="provider-thinking">OpenAI reasoning_effort</td>' in page
    assert '<td id="provider-tools">Not supported</td>' in page
    listing = owner_client.get("/providers/").content.decode()
    assert "thinking: OpenAI reasoning_effort · no tools" in listing

    bad = {**FORM, "name": provider.name, "thinking": "telepathy"}
    page = owner_client.post(f"/providers/{provider.pk}/edit/", bad).content.decode()
    assert 'id="id_thinking_error"' in page
    provider.refresh_from_db()
    assert provider.thinking == "reasoning_effort"


def test_capabilities_in_the_api_default_by_kind_and_refuse_unknown_modes(
    owner_key, owner, monkeypatch
):
    monkeypatch.setattr("apps.core.services.check_provider_url", lambda url: None)
    new = {"name": "gpt", "kind": "openai", "base_url": "https://api.openai.com/v1"}
    body = api_post(owner_key, "/api/v1/providers/", new).json()
    assert (body["thinking"], body["supports_tools"]) == ("none", True)
    # Form data leaves supports_tools out: not given, so not False.
    form = Client().post(
        "/api/v1/providers/",
        {**new, "name": "claude", "kind": "anthropic"},
        HTTP_X_API_KEY=owner_key,
    )
    assert (form.json()["thinking"], form.json()["supports_tools"]) == ("anthropic", True)

    url = f"/api/v1/providers/{body['id']}/"
    response = Client().patch(
        url, {"thinking": "telepathy"}, content_type="application/json", HTTP_X_API_KEY=owner_key
    )
    assert response.status_code == 400 and list(response.json()) == ["thinking"]
    response = Client().patch(
        url,
        {"thinking": "reasoning_effort", "supports_tools": False},
        content_type="application/json",
        HTTP_X_API_KEY=owner_key,
    )
    assert (response.json()["thinking"], response.json()["supports_tools"]) == (
        "reasoning_effort",
        False,
    )


def api_post(key: str, url: str, body: dict) -> Any:
    return Client().post(url, body, content_type="application/json", HTTP_X_API_KEY=key)
