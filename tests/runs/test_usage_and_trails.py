"""The run page's usage and cost per stage, its rejected candidates' trails, and the cost
fields of the runs API."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import ModelPrice
from apps.runs import services
from apps.runs.engines.context import USAGE_KEYS
from apps.runs.engines.usage import usage_merge
from apps.runs.models import RejectedSample, Run, RunStatus
from tests.factories import ProviderFactory, api_key_for
from tests.queries import count_queries
from tests.runs.factories import SpecVersionFactory
from tests.runs.trails import EVIL, full_trail

pytestmark = pytest.mark.django_db

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def run(owner, django_capture_on_commit_callbacks):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project, default_model="gpt-test")
    return services.run_create(
        membership=owner, spec_version=version, provider=provider, num_samples=40
    )


def _counts(run: Run, **stages: tuple[int, int, int, int]) -> dict:
    """(stage, provider, model) → counters, as the engine's usage meter takes them; each
    stage is (calls, input tokens, output tokens, latency ms)."""
    counts = {}
    for stage, (calls, inp, out, latency) in stages.items():
        row = dict.fromkeys(USAGE_KEYS, 0)
        row.update(calls=calls, input_tokens=inp, output_tokens=out, latency_ms=latency)
        counts[(stage, run.provider_id or 0, run.model)] = row
    return counts


def _use(run: Run, accepted: int = 12, status: str = RunStatus.SUCCEEDED) -> Run:
    """Usage committed as the engine commits it: priced by the ModelPrice rows of now."""
    usage = usage_merge(
        {},
        _counts(run, draft=(4, 3000, 1500, 2000), judge=(2, 2000, 500, 900)),
    )
    Run.objects.filter(pk=run.pk).update(usage_by_stage=usage, accepted=accepted, status=status)
    run.refresh_from_db()
    return run


def _price(run: Run) -> None:
    # $2 per million input tokens, $10 per million output tokens.
    assert run.provider is not None
    ModelPrice.objects.create(
        provider=run.provider, model=run.model, input_per_million=2, output_per_million=10
    )


def test_usage_table_with_a_price_shows_costs_a_total_and_the_cost_per_sample(owner_client, run):
    _price(run)
    run = _use(run, accepted=12)
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Usage and cost per stage" in page
    # draft: 3000 × $2/M + 1500 × $10/M = $0.021; judge: 2000 × $2/M + 500 × $10/M = $0.009.
    assert '<th scope="row" title="gpt-test">draft</th>' in page
    assert "<td>3,000</td><td>1,500</td><td>0</td>" in page
    assert "<td>500 ms</td>" in page  # 2000 ms over 4 calls
    assert "<td>$0.021</td>" in page and "<td>$0.009</td>" in page
    total = page[page.index('<tr class="usage-total">') :]
    assert "<td>6</td>" in total and "<td>5,000</td><td>2,000</td>" in total
    assert "<td>$0.03</td>" in total
    # $0.03 over 12 accepted samples.
    assert '<strong id="cost-per-accepted">$0.0025</strong>' in page
    assert "no price set" not in page
    # Draft is the longer bar: 3000 + 1500 tokens against 2000 + 500.
    assert 'role="img" aria-label="tokens per stage"' in page
    assert 'x="90" y="0" width="340.0"' in page  # 510 × 3000 / 4500


def test_usage_table_without_a_price_says_so_and_links_to_the_provider(owner_client, run):
    run = _use(run)
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    provider_url = reverse("provider_detail", args=[run.provider_id])
    assert page.count('<span class="unpriced">no price set</span>') == 2
    assert f'<a href="{provider_url}" title="Set the price of gpt-test' in page
    assert '<span class="unpriced">unknown</span>' in page  # the total
    assert "cost-per-accepted" not in page
    assert "unknown until every model has a price (gpt-test" in page
    assert "$0" not in page


def test_an_unpriced_model_of_another_provider_links_to_that_provider(owner_client, run):
    # The judge ran on another provider of the project (a revision model of its own).
    judge_provider = ProviderFactory(project=run.project, name="judges")
    row = dict.fromkeys(USAGE_KEYS, 0)
    row.update(calls=3, input_tokens=900, output_tokens=100, latency_ms=600)
    _price(run)  # the draft model has a price; the judge's has none
    usage = usage_merge(
        {},
        {
            **_counts(run, draft=(4, 3000, 1500, 2000)),
            ("judge", judge_provider.pk, "judge-model"): row,
        },
    )
    assert usage["judge"]["unpriced"] == [[judge_provider.pk, "judge-model"]]
    assert "unpriced" not in usage["draft"]
    Run.objects.filter(pk=run.pk).update(usage_by_stage=usage, accepted=3)
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    judge_url = reverse("provider_detail", args=[judge_provider.pk])
    assert page.count('<span class="unpriced">no price set</span>') == 1
    assert f'<a href="{judge_url}" title="Set the price of judge-model' in page


def test_usage_is_live_in_the_status_fragment_at_a_constant_query_count(owner_client, run):
    url = reverse("run_detail", args=[run.pk])
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    fragment = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Calls and their cost appear here as stages answer." in fragment
    with count_queries() as before:
        owner_client.get(url, HTTP_HX_REQUEST="true")
    _use(run, status=RunStatus.RUNNING)
    with count_queries() as after:
        fragment = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section id="live-status"') and "every 2s" in fragment
    assert '<table class="usage-table">' in fragment
    assert len(after) == len(before)


def test_rejected_candidates_show_their_trail_escaped(owner_client, run):
    Run.objects.filter(pk=run.pk).update(rejected=1, rejected_by_reason={"not_judged": 1})
    RejectedSample.objects.create(
        run=run,
        reason="not_judged",
        detail="the judge gave no verdict on it",
        payload={"text": "draft", "label": "bug"},
        lineage={"run_id": run.pk, "call": 0, "trail": full_trail()},
    )
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    trail = page[page.index('<details class="reject-trail"') :]
    assert re.match(
        r'<details class="reject-trail" data-keep-open="reject-trail-\d+"><summary><small>Trail',
        trail,
    )
    assert 'class="trail" hx-disable' in trail
    assert '<span class="verdict-chip fail">fail</span> <strong>requirements</strong>' in trail
    assert "Fixed: <code>requirements</code>" in trail
    assert EVIL not in page and ESCAPED in trail


def test_api_gives_usage_total_cost_and_cost_per_accepted_sample(owner, run):
    client = Client(HTTP_X_API_KEY=api_key_for(owner))
    url = reverse("api_run_detail", args=[run.pk])
    empty = client.get(url).json()
    assert empty["usage_by_stage"] == {}
    assert empty["total_cost"] is None and empty["cost_per_accepted_sample"] is None

    run = _use(run, accepted=12)
    unpriced = client.get(url).json()
    assert unpriced["usage_by_stage"]["draft"]["cost"] is None
    assert unpriced["usage_by_stage"]["draft"]["input_tokens"] == 3000
    assert unpriced["total_cost"] is None and unpriced["cost_per_accepted_sample"] is None

    _price(run)
    run = _use(run, accepted=12)
    priced = client.get(url).json()
    assert Decimal(priced["usage_by_stage"]["judge"]["cost"]) == Decimal("0.009")
    assert priced["total_cost"] == "0.03"
    assert priced["cost_per_accepted_sample"] == "0.0025"
    listed = client.get(reverse("api_run_list")).json()
    assert listed[0]["cost_per_accepted_sample"] == "0.0025"

    Run.objects.filter(pk=run.pk).update(accepted=0)
    nothing_kept = client.get(url).json()
    assert nothing_kept["total_cost"] == "0.03" and nothing_kept["cost_per_accepted_sample"] is None


def test_api_schema_documents_the_usage_fields(owner):
    client = Client(HTTP_X_API_KEY=api_key_for(owner))
    schema = client.get(reverse("api_schema"), {"format": "json"}).json()
    fields = schema["components"]["schemas"]["RunOutput"]["properties"]
    assert "no price" in fields["usage_by_stage"]["description"]
    assert fields["total_cost"]["nullable"] and fields["cost_per_accepted_sample"]["nullable"]
