"""Before a run: `POST /api/v1/runs/?dry_run=true` says what it would take (calls,
tokens, cost, time) as ranges with their assumptions, and starts nothing."""

from decimal import Decimal

import pytest
from django.test import Client

from apps.core.models import ModelPrice, Role
from apps.runs.models import Run
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory, drive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def api(fake_openai, django_capture_on_commit_callbacks):
    membership = MembershipFactory()
    client = Client(HTTP_X_API_KEY=api_key_for(membership))
    client.membership = membership
    client.provider = ProviderFactory(
        project=membership.project,
        name="fake",
        base_url=fake_openai.base_url,
        default_model="fake-model",
        max_concurrency=8,
    )
    client.version = SpecVersionFactory(spec__project=membership.project)
    return client


def _estimate(api, **params):
    body = {"spec_id": api.version.spec_id, "provider_id": api.provider.pk, **params}
    return api.post("/api/v1/runs/?dry_run=true", body, content_type="application/json")


def test_a_dry_run_estimates_and_starts_nothing(api):
    response = _estimate(api, num_samples=100, batch_size=5, concurrency=4)
    assert response.status_code == 200, response.content
    body = response.json()
    assert Run.objects.count() == 0
    assert body["num_samples"] == 100
    (draft,) = body["stages"]
    assert draft["stage"] == "draft" and draft["model"] == "fake/fake-model"
    # 20 batches of 5, some drafted again after a rejection.
    assert 20 <= draft["calls"]["low"] <= 25 and draft["calls"]["high"] >= 25
    assert body["calls"] == draft["calls"]
    assert 0 < body["input_tokens"]["low"] <= body["input_tokens"]["high"]
    assert 0 < body["seconds"]["low"] <= body["seconds"]["high"]
    # Nothing priced without a price.
    assert body["cost_usd"] is None and body["unpriced_models"] == ["fake/fake-model"]
    assert body["basis"].startswith("guessed from the spec and the settings")
    assert any("batches of 5" in line for line in body["assumptions"])
    assert any("4 calls in flight" in line for line in body["assumptions"])


def test_a_price_gives_a_cost_range_and_the_quality_stages_add_their_calls(api):
    ModelPrice.objects.create(
        provider=api.provider, model="fake-model", input_per_million=2, output_per_million=10
    )
    body = _estimate(
        api,
        num_samples=100,
        skip_outline=False,
        revision_types=["conformance"],
        filtering_types=["conformance"],
        max_revision_cycles=2,
    ).json()
    stages = {stage["stage"]: stage for stage in body["stages"]}
    assert list(stages) == ["plan", "outline", "draft", "judge", "revision"]
    assert stages["plan"]["calls"] == {"low": 1, "high": 1}
    assert stages["judge"]["calls"]["low"] >= stages["draft"]["calls"]["low"]
    assert stages["revision"]["calls"]["high"] > stages["revision"]["calls"]["low"] > 0
    low, high = (Decimal(body["cost_usd"][end]) for end in ("low", "high"))
    assert Decimal(0) < low < high
    tokens_low = body["input_tokens"]["low"] * 2 + body["output_tokens"]["low"] * 10
    assert low == pytest.approx(Decimal(tokens_low) / 10**6, rel=Decimal("0.01"))
    assert body["unpriced_models"] == []


def test_after_a_run_of_the_spec_the_estimate_goes_by_what_it_measured(api, fake_openai):
    fake_openai.responder = responders.classification(CLASS_LABELS)
    params = {"num_samples": 30, "batch_size": 5}
    created = api.post(
        "/api/v1/runs/",
        {"spec_id": api.version.spec_id, "provider_id": api.provider.pk, **params},
        content_type="application/json",
    )
    run = drive(Run.objects.get(pk=created.json()["id"]))
    assert run.status == "SUCCEEDED"
    body = _estimate(api, **params).json()
    assert body["basis"] == "measured on 1 earlier run of this spec"
    assert f"#{run.pk}" in body["assumptions"][0]
    # The same run again: its real calls and tokens lie inside the ranges.
    assert body["calls"]["low"] <= run.calls + run.failed_calls <= body["calls"]["high"]
    assert body["input_tokens"]["low"] <= run.input_tokens <= body["input_tokens"]["high"]
    # Other quality settings make other calls: the earlier run is no guide for them.
    other = _estimate(api, **params, filtering_types=["conformance"]).json()
    assert other["basis"].startswith("guessed")


@pytest.mark.parametrize(
    ("query", "payload", "field"),
    [
        ("dry_run=maybe", {"num_samples": 10}, "dry_run"),
        ("dry_run=true", {"num_samples": 20_001}, "num_samples"),
        ("dry_run=true", {"num_samples": 10, "batch_size": 0}, "batch_size"),
        ("dry_run=true", {"num_samples": 10, "revision_model": "nobody/none"}, "revision_model"),
    ],
)
def test_a_dry_run_checks_like_a_start(api, query, payload, field):
    body = {"spec_id": api.version.spec_id, "provider_id": api.provider.pk, **payload}
    response = api.post(f"/api/v1/runs/?{query}", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Run.objects.count() == 0


def test_viewers_cannot_estimate(api):
    viewer = MembershipFactory(project=api.membership.project, role=Role.VIEWER)
    client = Client(HTTP_X_API_KEY=api_key_for(viewer))
    body = {"spec_id": api.version.spec_id, "num_samples": 10, "provider_id": api.provider.pk}
    response = client.post("/api/v1/runs/?dry_run=true", body, content_type="application/json")
    assert response.status_code == 403
