"""Model ids: what a project can call, and what each id resolves to."""

from __future__ import annotations

import time

import pytest

from apps.inference.models import ModelAlias
from apps.inference.registry import ModelNotFound, model_list, model_resolve
from tests.factories import MembershipFactory, ProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def project(fake_openai):
    project = MembershipFactory().project
    fake = ProviderFactory(
        project=project, name="fake", base_url=fake_openai.base_url, default_model="fake-gpt"
    )
    ModelAlias.objects.create(project=project, alias="support", provider=fake, model="tuned")
    return project


def test_resolution(project):
    assert model_resolve(project, "fake/fake-gpt")[1] == "fake-gpt"
    assert model_resolve(project, "fake")[1] == "fake-gpt"  # the provider's default
    assert model_resolve(project, "fake/fake-gpt-mini")[1] == "fake-gpt-mini"  # listed
    provider, model = model_resolve(project, "support")
    assert (provider.name, model) == ("fake", "tuned")  # an alias needs no listing


@pytest.mark.parametrize("model_id", ["fake/not-listed", "nobody/fake-gpt", "nobody", "", "/x"])
def test_unknown_ids_are_404(project, model_id):
    with pytest.raises(ModelNotFound):
        model_resolve(project, model_id)


def test_another_projects_providers_and_aliases_are_unknown(project):
    stranger = MembershipFactory().project
    with pytest.raises(ModelNotFound):
        model_resolve(stranger, "fake/fake-gpt")
    with pytest.raises(ModelNotFound):
        model_resolve(stranger, "support")


def test_model_list(project):
    ids = [entry.id for entry in model_list(project)]
    assert ids == ["fake/fake-gpt", "fake/fake-gpt-mini", "support"]
    alias = model_list(project)[-1]
    assert (alias.alias, alias.owned_by, alias.upstream_model) == (True, "fake", "tuned")


def test_a_dead_provider_costs_one_short_wait_then_is_taken_on_trust(project, fake_openai):
    fake_openai.script(stall=True)  # /models never answers
    ProviderFactory(
        project=project,
        name="slow",
        base_url=fake_openai.base_url,
        default_model="m",
    )
    started = time.monotonic()
    assert "slow/m" in [entry.id for entry in model_list(project)]
    assert time.monotonic() - started < 4.5  # one listing timeout (2 s) per provider at most
    started = time.monotonic()
    # The failure is remembered: no second wait, and any model id is accepted.
    assert model_resolve(project, "slow/anything")[1] == "anything"
    assert time.monotonic() - started < 0.5
