"""Run creation and the gateway share one model list cache and one rule for failures."""

from __future__ import annotations

import pytest

from apps.core import services as core_services
from apps.core.llm import model_lists
from apps.inference.registry import ModelNotFound, model_resolve
from tests.factories import MembershipFactory, ProviderFactory
from tests.fakes.openai_server import MODELS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def provider(fake_openai):
    project = MembershipFactory().project
    return ProviderFactory(
        project=project, name="fake", base_url=fake_openai.base_url, default_model="fake-gpt"
    )


def listings(fake) -> int:
    return sum(1 for r in fake.requests if r["path"].endswith("/models"))


def test_what_the_gateway_listed_is_what_run_creation_uses(provider, fake_openai):
    assert model_resolve(provider.project, "fake/fake-gpt-mini")[1] == "fake-gpt-mini"
    assert core_services.provider_model_ids(provider=provider) == MODELS
    assert listings(fake_openai) == 1  # one cache: run creation did not ask again


def test_the_gateway_still_refuses_a_typo_while_the_provider_cannot_list(
    provider, fake_openai, monkeypatch
):
    # Until now the gateway cached a failure as "unknown" and let any name through for a
    # minute; it now holds the provider to the last list it gave, as run creation does.
    monkeypatch.setattr(model_lists, "FRESH_SECONDS", 0)
    assert model_resolve(provider.project, "fake/fake-gpt-mini")[1] == "fake-gpt-mini"
    fake_openai.script(fail_status=503, error_rate=1.0)

    with pytest.raises(ModelNotFound):
        model_resolve(provider.project, "fake/fake-gtp")
    assert model_resolve(provider.project, "fake/fake-gpt-mini")[1] == "fake-gpt-mini"
    assert listings(fake_openai) == 2  # asked again once, then left alone after failing
