"""What a call costs (apps/core/pricing.py), the engine's price lookup, and what a provider
can do (thinking, tools) by kind, as ProviderConfig carries it."""

from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import price_services, services
from apps.core.models import ModelPrice, Provider
from apps.core.pricing import Price, cost, prices_for, total_cost
from tests.factories import MembershipFactory, ProviderFactory

SONNET = Price(Decimal("3"), Decimal("15"))


def test_cost_is_tokens_times_price_per_million():
    assert cost(SONNET, 1_500, 500) == Decimal("0.012")
    assert cost(SONNET, 1_000_000, 0) == Decimal("3")
    assert cost(SONNET, 0, 1_000_000) == Decimal("15")
    assert cost(SONNET, 0, 0) == 0
    # Exact, not a float: a billion calls of one token each add up to the cent.
    one = cost(Price(Decimal("0.0001"), Decimal("0")), 1, 0)
    assert one == Decimal("0.0000000001") and isinstance(one, Decimal)


def test_a_model_without_a_price_costs_unknown_not_zero():
    assert cost(None, 1_500, 500) is None
    assert cost(None, 0, 0) is None
    assert total_cost([cost(SONNET, 1_500, 500), cost(SONNET, 1_500, 500)]) == Decimal("0.024")
    assert total_cost([cost(SONNET, 1_500, 500), cost(None, 10, 10)]) is None
    assert total_cost([]) == 0


def test_negative_token_counts_are_a_bug_not_a_discount():
    with pytest.raises(ValueError):
        cost(SONNET, -1, 0)


@pytest.mark.django_db
def test_prices_for_is_one_query_over_several_providers():
    owner = MembershipFactory()
    first = ProviderFactory(project=owner.project, name="first")
    second = ProviderFactory(project=owner.project, name="second")
    unpriced = ProviderFactory(project=owner.project, name="unpriced")
    price_services.model_price_set(
        membership=owner, provider=first, model="m", input_per_million=3, output_per_million=15
    )
    price_services.model_price_set(
        membership=owner,
        provider=second,
        model="m",
        input_per_million="0.25",
        output_per_million="1.25",
    )
    with CaptureQueriesContext(connection) as queries:
        prices = prices_for(provider_ids=[first.pk, second.pk, unpriced.pk])
    assert len(queries) == 1
    assert prices == {
        (first.pk, "m"): SONNET,
        (second.pk, "m"): Price(Decimal("0.25"), Decimal("1.25")),
    }
    assert cost(prices.get((unpriced.pk, "m")), 100, 100) is None


@pytest.mark.django_db
def test_capabilities_default_by_kind_and_reach_the_client(monkeypatch):
    monkeypatch.setattr("apps.core.services.check_provider_url", lambda url: None)
    owner = MembershipFactory()
    base = {"base_url": "https://api.example.com/v1"}
    claude = services.provider_create(membership=owner, name="claude", kind="anthropic", **base)
    gpt = services.provider_create(membership=owner, name="gpt", kind="openai", **base)
    embedded = services.provider_ensure_embedded(project=owner.project)
    assert (claude.thinking, claude.supports_tools) == ("anthropic", True)
    assert (gpt.thinking, gpt.supports_tools) == ("none", True)
    assert (embedded.thinking, embedded.supports_tools) == ("none", False)

    # Said explicitly, it wins over the kind's default.
    o1 = services.provider_create(
        membership=owner, name="o1", kind="openai", thinking="reasoning_effort", **base
    )
    plain = services.provider_create(
        membership=owner, name="plain", kind="anthropic", supports_tools=False, **base
    )
    assert (o1.thinking, o1.supports_tools) == ("reasoning_effort", True)
    assert (plain.thinking, plain.supports_tools) == ("anthropic", False)

    config = services.provider_config(provider=claude)
    assert (config.thinking, config.tools) == ("anthropic", True)
    config = services.provider_config(provider=o1)
    assert (config.thinking, config.tools) == ("reasoning_effort", True)
    config = services.provider_config(provider=embedded)
    assert (config.thinking, config.tools) == ("none", False)

    services.provider_update(membership=owner, provider=gpt, thinking="reasoning_effort")
    gpt.refresh_from_db()
    assert services.provider_config(provider=gpt).thinking == "reasoning_effort"


@pytest.mark.django_db
def test_existing_rows_get_their_kinds_capabilities_when_migrated():
    migration = import_module("apps.core.migrations.0004_provider_capabilities_model_prices")
    owner = MembershipFactory()
    claude = ProviderFactory(project=owner.project, kind="anthropic")
    gpt = ProviderFactory(project=owner.project, kind="openai")
    embedded = services.provider_ensure_embedded(project=owner.project)
    # As rows were before the migration: the columns' defaults.
    Provider.objects.update(thinking="none", supports_tools=False)
    migration.capabilities_by_kind(global_apps, None)
    rows = {p.pk: (p.thinking, p.supports_tools) for p in Provider.objects.all()}
    assert rows[claude.pk] == ("anthropic", True)
    assert rows[gpt.pk] == ("none", True)
    assert rows[embedded.pk] == ("none", False)
    assert ModelPrice.objects.count() == 0  # nothing priced silently
