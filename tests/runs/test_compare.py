"""Two runs side by side: settings that differ, results as figures with bars, rejects by
reason, label shares, lengths and samples; reached from a run's page."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.runs import services
from apps.runs.models import Run, RunStatus
from tests.factories import MembershipFactory, ProviderFactory
from tests.runs.factories import SpecVersionFactory, insert_samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(owner, django_capture_on_commit_callbacks):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project, name="acme")
    first = services.run_create(
        membership=owner, spec_version=version, provider=provider, num_samples=4, batch_size=5
    )
    second = services.run_create(
        membership=owner,
        spec_version=version,
        provider=provider,
        num_samples=4,
        batch_size=8,
        dataset_name="tickets-2",
    )
    started = timezone.now() - timedelta(minutes=5)
    for run, texts, rejected in (
        (first, ["short one", "a second short one"], {"unknown_label": 3}),
        (second, ["<script>alert(1)</script> a much longer sample text here"], {}),
    ):
        insert_samples(run, texts)
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED,
            accepted=len(texts),
            rejected=sum(rejected.values()),
            rejected_by_reason=rejected,
            label_counts={"bug": len(texts)},
            started_at=started,
            finished_at=started + timedelta(seconds=90 if run is first else 30),
        )
    return Run.objects.get(pk=first.pk), Run.objects.get(pk=second.pk)


def _compare(client, a, b=None):
    query = f"?a={a.pk}" + (f"&b={b.pk}" if b else "")
    return client.get(reverse("run_compare") + query)


def test_two_runs_side_by_side(owner_client, runs):
    first, second = runs
    body = _compare(owner_client, first, second).content.decode()
    # Only the settings that differ, with how many are the same.
    settings = re.findall(
        r'<tr class="differs"><th scope="row">([^<]+)</th><td><code>([^<]*)</code></td>'
        r"<td><code>([^<]*)</code>",
        body,
    )
    assert settings == [("Generation settings · Batch size", "5", "8")]
    assert "others are the same" in body
    # Results: 2 of 5 candidates accepted against 1 of 1; a bar for each figure.
    assert re.search(r"Acceptance rate \(%\)</th>\s*<td><span class=\"compare-value\">40\.0", body)
    assert re.search(r"Time \(s\)</th>\s*<td><span class=\"compare-value\">90</span>", body)
    assert 'class="compare-bar"><span style="width: 100.0%">' in body
    assert "Label not in the spec" in body  # rejects by reason
    assert "Mean sample (characters)" in body
    # Samples of each, escaped.
    assert "a second short one" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_without_a_second_run_the_page_offers_the_runs_of_the_same_spec_first(
    owner_client, owner, runs
):
    first, second = runs
    other_spec = services.run_create(
        membership=owner,
        spec_version=SpecVersionFactory(spec__project=owner.project),
        provider=first.provider,
        num_samples=3,
        dataset_name="other",
    )
    body = _compare(owner_client, first).content.decode()
    picker = body[body.index('class="compare-pick"') :]
    options = re.findall(r'<option value="(\d+)"', picker)
    assert options == [str(second.pk), str(other_spec.pk)]
    assert "Settings that differ" not in body


def test_a_run_page_links_to_the_comparison_with_the_run_before_it(owner_client, runs):
    first, second = runs
    page = owner_client.get(reverse("run_detail", args=[second.pk])).content.decode()
    assert f'href="/runs/compare/?a={second.pk}&amp;b={first.pk}"' in page
    assert f"Compare with #{first.pk}" in page
    page = owner_client.get(reverse("run_detail", args=[first.pk])).content.decode()
    assert f'href="/runs/compare/?a={first.pk}"' in page


def test_another_projects_run_is_not_found_and_bad_ids_are_refused(owner_client, runs):
    first, _ = runs
    stranger = MembershipFactory()
    foreign = services.run_create(
        membership=stranger,
        spec_version=SpecVersionFactory(spec__project=stranger.project),
        provider=ProviderFactory(project=stranger.project),
        num_samples=3,
    )
    assert _compare(owner_client, first, foreign).status_code == 404
    outsider = Client()
    outsider.force_login(stranger.user)
    assert _compare(outsider, first).status_code == 404
    assert owner_client.get(reverse("run_compare") + "?a=x").status_code == 400
    assert owner_client.get(reverse("run_compare")).status_code == 302
