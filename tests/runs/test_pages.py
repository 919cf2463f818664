"""Run pages: form with inline errors, list, detail with its live fragment."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.core.models import ModelPrice, Role
from apps.datasets.models import Sample
from apps.runs import services
from apps.runs.models import RejectedSample, Run, RunEvent, RunStatus, ThroughputPoint
from tests.factories import MembershipFactory, ProviderFactory
from tests.queries import count_queries
from tests.runs.factories import SpecVersionFactory, insert_samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(owner, django_capture_on_commit_callbacks):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project)
    return services.run_create(
        membership=owner, spec_version=version, provider=provider, num_samples=40
    )


def add_samples(run: Run, texts: list[str]) -> None:
    insert_samples(run, texts)
    Run.objects.filter(pk=run.pk).update(
        accepted=len(texts), status=RunStatus.RUNNING, label_counts={"bug": len(texts)}
    )


def test_form_shows_every_bad_field_inline_and_creates_nothing(owner_client, owner):
    provider = ProviderFactory(project=owner.project)
    page = owner_client.post(
        reverse("run_create"),
        {
            "provider": provider.pk,
            "num_samples": 50000,
            "batch_size": 20,
            "num_shots": 3,
            "max_examples_in_prompt": 10,
            "exploration_mode": "BALANCED",
            "seed_shuffling": "sample",
            "concurrency": 65,
            "random_seed": 0,
        },
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert "Fix the fields marked below, some of them under Generation settings." in body
    assert "<details open>" in body  # the bad batch size and concurrency are in view
    assert body.count('class="field-errors error"') == 4
    assert "This field is required." in body  # spec_version
    assert "less than or equal to 20000" in body
    assert "less than or equal to 10." in body
    assert "less than or equal to 64." in body
    assert Run.objects.count() == 0


# The form's generation settings, filled in as a person leaves them.
GENERATION = {
    "batch_size": 5,
    "num_shots": 3,
    "max_examples_in_prompt": 10,
    "exploration_mode": "BALANCED",
    "seed_shuffling": "sample",
    "concurrency": 4,
}


def test_form_shows_the_services_checks_inline(owner_client, owner):
    version = SpecVersionFactory(spec__project=owner.project, seeds=[])
    provider = ProviderFactory(project=owner.project)
    page = owner_client.post(
        reverse("run_create"),
        {
            "spec_version": version.pk,
            "provider": provider.pk,
            "multiplier": 3,
            **GENERATION,
            "random_seed": 0,
        },
    )
    body = page.content.decode()
    assert "multiplier needs seed examples in the spec version." in body
    assert "<details>" in body  # nothing wrong under the fold: it stays closed
    assert 'id="id_multiplier_error"' in body
    assert Run.objects.count() == 0


@pytest.mark.usefixtures("allow_loopback")
def test_form_names_the_models_of_the_provider_for_one_it_does_not_list(
    owner_client, owner, fake_openai
):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project, name="vllm", base_url=fake_openai.base_url)
    fields = {"spec_version": version.pk, "provider": provider.pk, "num_samples": 5}
    page = owner_client.post(
        reverse("run_create"), {**fields, **GENERATION, "random_seed": 0, "model": "fake-gtp"}
    )
    body = page.content.decode()
    assert 'id="id_model_error"' in body
    assert (
        "Provider vllm does not serve &#x27;fake-gtp&#x27;; it lists: fake-gpt, fake-gpt-mini."
        in body
    )
    assert Run.objects.count() == 0


def test_form_refuses_a_long_model_and_a_seed_past_64_bits_inline(owner_client, owner):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project)
    fields = {"spec_version": version.pk, "provider": provider.pk, "num_samples": 5, **GENERATION}
    page = owner_client.post(
        reverse("run_create"), {**fields, "model": "m" * 201, "random_seed": 10**20}
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert "Ensure this value has at most 200 characters (it has 201)." in body
    assert "less than or equal to 9223372036854775807" in body
    assert Run.objects.count() == 0


def test_form_preselects_the_embedded_provider_then_the_one_last_used(owner_client, owner):
    def selected() -> list[str]:
        page = owner_client.get(reverse("run_create")).content.decode()
        return re.findall(r'<option value="\d+" selected>([^<(]+) \(', page)

    ProviderFactory(project=owner.project, name="another")
    assert selected() == ["another"]  # the only one
    ProviderFactory(project=owner.project, name="local", kind="embedded")
    assert selected() == ["local"]
    used = ProviderFactory(project=owner.project, name="vllm")
    services.run_create(
        membership=owner,
        spec_version=SpecVersionFactory(spec__project=owner.project),
        provider=used,
        num_samples=5,
    )
    assert selected() == ["vllm"]


def test_form_starts_a_run(owner_client, owner, django_capture_on_commit_callbacks):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project)
    with django_capture_on_commit_callbacks() as callbacks:
        page = owner_client.post(
            reverse("run_create"),
            {
                "spec_version": version.pk,
                "provider": provider.pk,
                "num_samples": 30,
                "batch_size": 5,
                "num_shots": 3,
                "max_examples_in_prompt": 10,
                "exploration_mode": "CREATIVE",
                "seed_shuffling": "prompt",
                "concurrency": 4,
                "random_seed": 7,
                "dataset_name": "tickets",
            },
        )
    run = Run.objects.get()
    assert page.status_code == 302 and page["Location"] == reverse("run_detail", args=[run.pk])
    assert len(callbacks) == 1  # the first chunk is sent to the queue after commit
    assert (run.num_samples, run.dataset.name) == (30, "tickets")
    assert run.options.exploration_mode == "CREATIVE"


def test_the_estimate_button_shows_ranges_and_starts_nothing(owner_client, owner):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project, name="acme", default_model="m1")
    ModelPrice.objects.create(
        provider=provider, model="m1", input_per_million=1, output_per_million=4
    )
    fields = {
        "spec_version": version.pk,
        "provider": provider.pk,
        "num_samples": 200,
        "batch_size": 5,
        "num_shots": 3,
        "max_examples_in_prompt": 10,
        "exploration_mode": "BALANCED",
        "seed_shuffling": "sample",
        "concurrency": 4,
        "random_seed": 0,
        "near_duplicate_threshold": 90,
        "max_revision_cycles": 1,
    }
    page = owner_client.post(reverse("run_create"), {**fields, "estimate": "1"})
    body = page.content.decode()
    assert page.status_code == 200 and Run.objects.count() == 0
    assert "Estimate for 200 samples" in body and "nothing was started" in body
    assert re.search(r'id="estimate-cost">\$0\.\d{4}–\$0\.\d{4}<', body)
    assert re.search(r'<th scope="row">draft</th><td><code>acme/m1</code></td>\s*<td>4\d', body)
    assert 'class="estimate-bar"' in body and "guessed from the spec and the settings" in body
    # The form keeps what was typed; bad fields are marked as for a start.
    assert 'name="num_samples" value="200"' in body
    page = owner_client.post(reverse("run_create"), {**fields, "num_samples": 0, "estimate": "1"})
    assert "Nothing was started." in page.content.decode()
    assert "Estimate for" not in page.content.decode()


def test_run_again_starts_a_form_with_the_earlier_settings(owner_client, owner, run):
    Run.objects.filter(pk=run.pk).update(
        settings={
            "exploration_mode": "CREATIVE",
            "seed_shuffling": "prompt",
            "random_seed": 7,
            "batch_size": 3,
        }
    )
    detail = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    again_url = f"{reverse('run_create')}?again={run.pk}"
    assert f'href="{again_url}"' in detail
    page = owner_client.get(again_url)
    assert (
        f'With the settings of <a href="/runs/{run.pk}/">run #{run.pk}</a>' in page.content.decode()
    )
    form = page.context["form"]
    assert form.initial["dataset_name"] == run.dataset.name
    assert '<option value="CREATIVE" selected>' in form.as_div()
    # Submitting the form as it was filled in starts the same run into a new version.
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False}
    assert owner_client.post(reverse("run_create"), data).status_code == 302
    second = Run.objects.exclude(pk=run.pk).get()
    first = Run.objects.get(pk=run.pk)
    same = ("spec_version_id", "provider_id", "num_samples", "options")
    assert [getattr(second, f) for f in same] == [getattr(first, f) for f in same]
    assert second.options.exploration_mode == "CREATIVE"
    assert (second.options.random_seed, second.options.batch_size) == (7, 3)
    assert second.dataset_version == 2
    assert owner_client.get(f"{reverse('run_create')}?again={run.pk + 99}").status_code == 404


def test_viewers_get_no_run_again_button(run):
    viewer = MembershipFactory(project=run.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert "Run again" not in client.get(reverse("run_detail", args=[run.pk])).content.decode()


def test_a_run_started_through_a_compatible_api_says_so_on_its_pages(owner_client, run):
    detail = reverse("run_detail", args=[run.pk])
    assert "origin-tag" not in owner_client.get(detail).content.decode()
    Run.objects.filter(pk=run.pk).update(origin="dataframer")
    assert "via Dataframer API" in owner_client.get(detail).content.decode()
    listing = owner_client.get(reverse("run_list")).content.decode()
    assert (
        '<small class="origin-tag" title="Started through this compatible API">Dataframer API'
        in (listing)
    )


def test_detail_polls_while_running_and_escapes_samples(owner_client, run):
    add_samples(run, ["<script>alert('x')</script> crash on save", "Second ticket"])
    RejectedSample.objects.create(
        run=run,
        reason="unknown_label",
        detail="label 'x'",
        payload={"text": "<b>bold</b>", "label": "x"},
    )
    Run.objects.filter(pk=run.pk).update(rejected=1, rejected_by_reason={"unknown_label": 1})
    body = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in body
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "Label not in the spec — 1" in body
    # The rejected payload reads as JSON, escaped.
    shown = '{"text": "<b>bold</b>", "label": "x"}'
    assert escape(shown) in body
    assert "1 candidate rejected — Label not in the spec: 1." in body
    assert 'id="accepted-count">2<' in body


def test_status_says_what_a_run_waits_for(owner_client, run):
    url = reverse("run_detail", args=[run.pk])
    assert "Waiting for a worker." in owner_client.get(url).content.decode()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    first = "waiting for the provider&#x27;s first answers"
    assert first in owner_client.get(url).content.decode()
    Run.objects.filter(pk=run.pk).update(calls=1)
    assert first not in owner_client.get(url).content.decode()


@pytest.mark.parametrize(
    ("accepted", "eta"), [(100, "ETA 1 h 5 min"), (3000, "ETA 16 min"), (3900, "ETA 1 min 40 s")]
)
def test_eta_reads_as_a_duration(owner_client, run, accepted, eta):
    started = timezone.now() - timedelta(seconds=accepted)  # one sample a second
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=started, accepted=accepted, num_samples=4000
    )
    fragment = owner_client.get(reverse("run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert eta in fragment.content.decode()


def test_eta_follows_the_last_minute_s_pace_not_the_average_since_the_start(owner_client, run):
    # 1,000 samples in the first 15 minutes, then 10 a second for the last 100 s: the
    # average says an hour for the remaining 3,000, the last minute's pace 5 minutes.
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=now - timedelta(seconds=1000),
        accepted=2000,
        num_samples=5000,
    )
    for ago, total in [(100, 1000), (70, 1300), (40, 1600), (0, 2000)]:
        point = ThroughputPoint.objects.create(run=run, accepted_total=total)
        ThroughputPoint.objects.filter(pk=point.pk).update(at=now - timedelta(seconds=ago))
    fragment = owner_client.get(reverse("run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "ETA 4 min" in body or "ETA 5 min" in body, re.findall(r"ETA [^<]*", body)


def test_run_page_shows_its_times_duration_and_a_time_axis(owner_client, run):
    started = timezone.now() - timedelta(seconds=150)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, started_at=started, finished_at=started + timedelta(seconds=125)
    )
    for seconds, total in [(60, 10), (125, 40)]:
        point = ThroughputPoint.objects.create(run=run, accepted_total=total)
        ThroughputPoint.objects.filter(pk=point.pk).update(at=started + timedelta(seconds=seconds))
    body = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert f'started <time datetime="{started.isoformat()}">{started:%Y-%m-%d %H:%M:%S}' in body
    assert 'took <span id="run-duration">2 min 5 s</span>' in body
    # 125 s of chart: a tick every 30 s, labelled as durations, placed along the width.
    axis = re.search(r'<div class="chart-axis"[^>]*>(.*?)</div>', body).group(1)
    assert re.findall(r">([^<]+)</span>", axis) == ["0 s", "30 s", "1 min", "1 min 30 s", "2 min"]
    assert 'style="left: 48.0%"' in axis  # 60 of 125 s
    # A finished run's fragment takes the "Run queued" message away.
    assert "data-clears-messages" in body


def test_a_running_run_says_how_long_it_has_been_running(owner_client, run):
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=42)
    )
    body = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert re.search(r'running for <span id="run-duration">4[23] s</span>', body)
    assert "data-clears-messages" not in body


@pytest.mark.parametrize(
    ("accepted", "seconds", "shown"),
    [(6, 120, "3.0/min"), (240, 120, "2.0/s"), (1, 7200, "0.5/h")],
)
def test_throughput_reads_in_a_unit_that_shows_it(owner_client, run, accepted, seconds, shown):
    started = timezone.now() - timedelta(seconds=seconds)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=started, accepted=accepted, num_samples=4000
    )
    fragment = owner_client.get(reverse("run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert f'<strong class="counter-value">{shown}</strong>' in fragment.content.decode()


def test_rejected_count_includes_duplicates_as_the_status_line_does(owner_client, run):
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, rejected=0, duplicates=45, calls=9
    )
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert '<strong class="counter-value">45</strong><small>rejected (45 duplicates)' in page


def test_rejected_examples_say_how_many_are_shown_and_are_not_cut_off(owner_client, run):
    long_text = "<b>too long</b> " + "word " * 100 + "END"
    Run.objects.filter(pk=run.pk).update(rejected=1234, rejected_by_reason={"echo": 1234})
    for i in range(5):
        RejectedSample.objects.create(
            run=run,
            reason="echo",
            detail=f"the text is seed example {i}",
            payload={"text": long_text},
        )
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert '— 1,234 <small class="muted">(the newest 3 shown)</small>' in page
    assert page.count("END") == 3 and "<b>too long" not in page and "&lt;b&gt;too long" in page
    assert "the text is seed example 4" in page and "the text is seed example 1" not in page


def test_event_log_says_it_shows_the_newest_first_and_how_many(owner_client, run):
    url = reverse("run_detail", args=[run.pk])
    page = owner_client.get(url).content.decode()
    assert "newest first</small>" in page and "shown</small>" not in page
    RunEvent.objects.bulk_create(
        RunEvent(run=run, level="info", message=f"<i>event {i}</i>") for i in range(40)
    )
    page = owner_client.get(url).content.decode()
    assert "newest first, the newest 30 shown</small>" in page
    assert (
        "&lt;i&gt;event 39&lt;/i&gt;" in page
        and "&gt;event 9&lt;" not in page
        and "&gt;event 10&lt;" in page
    )


def test_live_fragment_is_a_partial_and_stops_polling_when_finished(owner_client, run):
    url = reverse("run_detail", args=[run.pk])
    fragment = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section id="live-status"')
    assert "<html" not in fragment
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    done = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in done
    assert "Succeeded" in done


def test_live_fragment_costs_a_handful_of_queries(owner_client, run):
    add_samples(run, [f"ticket {i}" for i in range(300)])
    url = reverse("run_detail", args=[run.pk])
    owner_client.get(url, HTTP_HX_REQUEST="true")
    with count_queries() as queries:
        owner_client.get(url, HTTP_HX_REQUEST="true")
    assert len(queries) <= 12, [sql[:80] for sql in queries.statements]


def test_cancel_button_cancels_and_viewer_cannot(owner_client, run):
    viewer = MembershipFactory(project=run.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert client.post(reverse("run_cancel", args=[run.pk])).status_code == 403
    assert "Cancel run" not in client.get(reverse("run_detail", args=[run.pk])).content.decode()
    response = owner_client.post(reverse("run_cancel", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED  # it was still queued


def test_list_links_each_run_to_its_spec_and_to_its_samples(owner_client, owner, run):
    add_samples(run, ["From the first run"])
    second = services.run_create(
        membership=owner,
        spec_version=run.spec_version,
        provider=run.provider,
        num_samples=5,
        dataset_name=run.dataset.name,
    )
    insert_samples(second, ["From the second run"])
    body = owner_client.get(reverse("run_list")).content.decode()
    assert f'href="{reverse("spec_detail", args=[run.spec_version.spec_id])}"' in body
    # The second run's version holds both runs' samples; its link shows only its own.
    samples_url = f"{reverse('dataset_detail', args=[run.dataset_id])}?version=2&run={second.pk}"
    assert f'href="{samples_url.replace("&", "&amp;")}"' in body
    page = owner_client.get(samples_url).content.decode()
    assert "From the second run" in page
    assert "From the first run" not in page
    # The run page links to the same list, and its label bars to the run's labels.
    Run.objects.filter(pk=second.pk).update(accepted=1, label_counts={"bug": 1})
    detail = owner_client.get(reverse("run_detail", args=[second.pk])).content.decode()
    assert f'href="{samples_url.replace("&", "&amp;")}"' in detail
    assert f"version=2&amp;run={second.pk}&amp;label=bug" in detail
    # Its newest samples carry the ids that the dataset page and the API show.
    sample = Sample.objects.get(run=second)
    assert f'title="Sample id">#{sample.pk}<' in detail
    assert f"#{sample.pk}<" in page


def listed_runs(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<a href="/runs/(\d+)/">#', body)]


def test_list_pages_through_older_runs_and_filters_by_status_and_spec(owner_client, owner):
    version = SpecVersionFactory(spec__project=owner.project)
    provider = ProviderFactory(project=owner.project)
    runs = [
        services.run_create(
            membership=owner, spec_version=version, provider=provider, num_samples=5
        ).pk
        for _ in range(53)
    ]
    newest_first = runs[::-1]
    Run.objects.filter(pk=runs[0]).update(status=RunStatus.FAILED)
    url = reverse("run_list")
    first = owner_client.get(url).content.decode()
    assert listed_runs(first) == newest_first[:50]
    older = f"{url}?before={newest_first[49]}"
    assert f'href="{older}">Older runs' in first
    second = owner_client.get(older).content.decode()
    assert listed_runs(second) == newest_first[50:]
    assert "Older runs" not in second and "Newest runs" in second
    assert f'hx-get="{older}" hx-trigger="every 2s"' in second  # polling keeps the page
    failed = owner_client.get(url, {"status": "failed"}).content.decode()
    assert listed_runs(failed) == [runs[0]]
    assert '<option value="failed" selected>' in failed
    assert listed_runs(owner_client.get(url, {"status": "cancelled"}).content.decode()) == []
    other_spec = services.run_create(
        membership=owner,
        spec_version=SpecVersionFactory(spec__project=owner.project),
        provider=provider,
        num_samples=5,
    )
    of_spec = owner_client.get(url, {"spec": other_spec.spec_version.spec_id}).content.decode()
    assert listed_runs(of_spec) == [other_spec.pk]
    assert f'Runs of the spec <a href="/specs/{other_spec.spec_version.spec_id}/">' in of_spec
    spec_page = owner_client.get(reverse("spec_detail", args=[version.spec_id])).content.decode()
    assert f'<a href="{url}?spec={version.spec_id}">53</a>' in spec_page
    foreign = SpecVersionFactory()  # another project's spec
    assert owner_client.get(url, {"spec": foreign.spec_id}).status_code == 404
    bad = owner_client.get(url, {"status": "done", "before": "0"}).content.decode()
    assert "status must be one of: queued, running, succeeded, failed, cancelled." in bad
    assert "before: Ensure this value is greater than or equal to 1." in bad
    assert listed_runs(bad) == [other_spec.pk, *newest_first[:49]]


def test_run_of_another_project_is_404(owner_client):
    other = MembershipFactory()
    version = SpecVersionFactory(spec__project=other.project)
    foreign = services.run_create(
        membership=other,
        spec_version=version,
        provider=ProviderFactory(project=other.project),
        num_samples=5,
    )
    assert owner_client.get(reverse("run_detail", args=[foreign.pk])).status_code == 404
    assert owner_client.post(reverse("run_cancel", args=[foreign.pk])).status_code == 404
    assert f"#{foreign.pk}<" not in owner_client.get(reverse("run_list")).content.decode()


def test_throughput_chart_of_a_long_run_draws_at_most_300_points(owner_client, run):
    from django.db import connection

    from apps.runs.models import ThroughputPoint

    Run.objects.filter(pk=run.pk).update(
        started_at=run.created_at, status=RunStatus.RUNNING, num_samples=3600
    )
    # An hour at one point a second, one more sample each second.
    ThroughputPoint.objects.bulk_create(
        ThroughputPoint(run=run, accepted_total=i) for i in range(1, 3601)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE runs_throughputpoint SET at = %s + accepted_total * interval '1 second'",
            [run.created_at],
        )
    page = owner_client.get(reverse("run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = page.content.decode()
    points = body.split('<polyline points="')[1].split('"')[0].split()
    assert len(points) == 301  # the origin and 300 of the run's points
    assert "accepted samples over 3600 s" in body
    assert points[0] == "0.0,120.0"
    assert points[-1] == "600.0,0.0"  # the newest: all 3,600 samples after an hour


def test_staff_can_cancel_runs_from_the_view_only_admin_list(admin_client, run):
    page = admin_client.get("/admin/runs/run/").content.decode()
    assert "Cancel the selected runs" in page
    response = admin_client.post(
        "/admin/runs/run/", {"action": "cancel_runs", "_selected_action": [run.pk]}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.cancel_requested or run.status == RunStatus.CANCELLED


def test_the_admin_shows_a_runs_settings_as_declared(admin_client, run):
    page = admin_client.get(f"/admin/runs/run/{run.pk}/change/").content.decode()
    assert page.count("<strong>Batch size</strong>: 5") == 1
    assert "<strong>Revision types</strong>: none" in page
    assert "<strong>Generation thinking budget</strong>: off" in page
