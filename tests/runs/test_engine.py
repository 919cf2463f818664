"""The run engine, chunk by chunk, called directly against the fake provider."""

import dataclasses
import itertools
import json

import pytest

from apps.core.jobs import job_requeue_stale
from apps.datasets import export
from apps.datasets.models import Sample
from apps.runs import selectors, services
from apps.runs.apis import RunOutput
from apps.runs.engines import local
from apps.runs.models import Run, RunStatus
from apps.specs.models import TaskType
from tests.factories import MembershipFactory, ProviderFactory
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory, created_run, drive, step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def test_classification_run_reaches_exact_count_balanced(setup, fake_openai):
    _, provider, version = setup
    fake_openai.responder = responders.classification(CLASS_LABELS)
    run = created_run(setup, 23)
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED
    assert run.accepted == 23
    samples = Sample.objects.filter(run=run)
    assert samples.count() == 23
    assert sorted(samples.values_list("index", flat=True)) == list(range(23))
    assert set(run.label_counts) == set(CLASS_LABELS)
    assert max(run.label_counts.values()) - min(run.label_counts.values()) <= 2
    first = samples.order_by("index").first()
    assert first.lineage["model"] == provider.default_model
    assert first.lineage["spec_version_id"] == version.pk


def test_the_last_answers_are_committed_one_by_one_as_they_come(setup, fake_openai, monkeypatch):
    """Once no more calls are wanted, each answer is committed as it comes while the
    others are still out, so the final commit holds only the last one."""
    fake_openai.responder = responders.classification(CLASS_LABELS)
    # 36 quick calls in 9 rounds of four, then four calls that end 100 ms apart.
    fake_openai.enqueue(
        *[{"latency": 0.02}] * 36, *[{"latency": t} for t in (0.05, 0.15, 0.25, 0.35)]
    )
    commits: list[tuple[str, int]] = []

    def recording(name, real):
        def commit(*, run_id, chunk, output, **options):
            commits.append((name, output.calls))
            return real(run_id=run_id, chunk=chunk, output=output, **options)

        return commit

    monkeypatch.setattr(local, "chunk_flush", recording("flush", local.chunk_flush))
    monkeypatch.setattr(local, "chunk_commit", recording("final", local.chunk_commit))
    run = created_run(setup, 200)
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED
    assert Sample.objects.filter(run=run).count() == 200
    assert sum(calls for _, calls in commits) == 40
    # The first of the slow four ends when nothing more is wanted: it and what came
    # before go in one flush, the next two in one flush each, the last in the final commit.
    assert commits[-3:] == [("flush", 1), ("flush", 1), ("final", 1)]
    assert commits[-4][0] == "flush"


def test_throughput_points_are_recorded_at_most_once_a_second_per_chunk(setup, fake_openai):
    fake_openai.responder = responders.classification(CLASS_LABELS)
    fake_openai.script(latency=0.1)
    run = drive(created_run(setup, 400))  # 80 calls in 20 rounds of 100 ms: one chunk of ~2 s
    assert run.status == RunStatus.SUCCEEDED
    points = list(run.throughput.order_by("at").values_list("at", "accepted_total"))
    assert run.steps_done >= 5  # an early commit every 0.25 s...
    assert 2 <= len(points) < run.steps_done  # ...but not a chart point for each
    assert points[-1][1] == 400  # the chunk's end
    early = [at for at, _ in points[:-1]]
    assert all((b - a).total_seconds() > 0.9 for a, b in itertools.pairwise(early))
    assert (early[0] - run.started_at).total_seconds() > 0.9


def test_invalid_samples_are_rejected_by_reason_and_run_still_completes(setup, fake_openai):
    fake_openai.responder = responders.classification(CLASS_LABELS, invalid_rate=0.3, seed=4)
    run = created_run(setup, 60)
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED
    assert Sample.objects.filter(run=run).count() == 60
    assert run.rejected_by_reason.get("unknown_label", 0) > 0
    assert run.rejected_by_reason.get("schema", 0) > 0
    assert run.duplicates > 0
    assert run.rejects.filter(reason="unknown_label").exists()
    labels = Sample.objects.filter(run=run).values_list("labels", flat=True)
    assert {label for sample_labels in labels for label in sample_labels} == set(CLASS_LABELS)


def test_texts_that_only_repeat_a_label_the_spec_or_a_seed_nearly_are_rejected(setup, fake_openai):
    counter = itertools.count()

    def respond(data):
        n = next(counter)
        return json.dumps(
            {
                "samples": [
                    {"text": " Bug. ", "label": "bug"},
                    {"text": "support tickets of a SaaS company", "label": "billing"},
                    {"text": '"No personal data"', "label": "bug"},
                    {"text": "The export button  crashes the app.", "label": "bug"},  # seed 2
                    {"text": "The export button crashes my app!", "label": "bug"},
                    {"text": "I was charged twice this month, please refund.", "label": "bug"},
                    *[{"text": f"Ticket {n}-{i}: login fails.", "label": "bug"} for i in range(2)],
                ]
            }
        )

    fake_openai.responder = respond
    run = drive(created_run(setup, 6))
    assert run.status == RunStatus.SUCCEEDED
    texts = set(Sample.objects.filter(run=run).values_list("text", flat=True))
    assert len(texts) == 6
    assert all(text.startswith("Ticket ") for text in texts)
    assert run.rejected_by_reason["echo"] == 6 * run.calls
    details = set(run.rejects.filter(reason="echo").values_list("detail", flat=True))
    assert details == {
        "the text is the label 'bug'",
        "the text is the description",
        "the text is a requirement",
        "the text is seed example 2",
        "the text is nearly seed example 2 (92% alike)",
        "the text is seed example 1 with a few words added",
    }


def test_ner_offsets_computed_and_bad_spans_rejected(fake_openai):
    membership = MembershipFactory()
    provider = ProviderFactory(project=membership.project, base_url=fake_openai.base_url)
    version = SpecVersionFactory(
        spec__project=membership.project,
        spec__task_type=TaskType.NER,
        labels=["PERSON", "CITY"],
        seeds=[
            {
                "text": "Ann lives in Oslo.",
                "entities": [{"text": "Ann", "label": "PERSON"}, {"text": "Oslo", "label": "CITY"}],
            }
        ],
    )
    fake_openai.responder = responders.ner(["PERSON", "CITY"], invalid_rate=0.3, seed=2)
    run = services.run_create(
        membership=membership,
        spec_version=version,
        provider=provider,
        num_samples=30,
        batch_size=3,
        concurrency=4,
    )
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED
    assert run.rejected_by_reason.get("span_not_found", 0) > 0
    for sample in Sample.objects.filter(run=run):
        text = sample.payload["text"]
        for entity in sample.payload["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]


def test_a_custom_run_exports_its_fields_in_the_schema_order(fake_openai):
    # jsonb would sort the fields question, answer, difficulty as answer, question, ...
    fields = ["question", "answer", "difficulty"]
    membership = MembershipFactory()
    provider = ProviderFactory(project=membership.project, base_url=fake_openai.base_url)
    version = SpecVersionFactory(
        spec__project=membership.project,
        spec__task_type=TaskType.CUSTOM,
        labels=[],
        seeds=[{"question": "Why is the sky blue?", "answer": "Light.", "difficulty": "easy"}],
        custom_schema={
            "type": "object",
            "properties": {name: {"type": "string", "minLength": 3} for name in fields},
            "required": fields,
        },
    )
    fake_openai.responder = responders.custom()
    run = services.run_create(
        membership=membership, spec_version=version, provider=provider, num_samples=6
    )
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED, (run.error, run.rejected_by_reason)

    sent = fake_openai.requests[0]["json"]["response_format"]["json_schema"]["schema"]
    assert list(sent["properties"]["samples"]["items"]["properties"]) == fields
    columns = export.export_columns(run.dataset, run.dataset_version)
    assert [c.name for c in columns if not c.meta] == fields
    assert run.events.latest("id").message.startswith("Succeeded: ")  # not shouted


def _quick_retries(real):
    """`provider_config` with fewer, quicker retries: keeps a failing run short."""
    return lambda *, provider: dataclasses.replace(
        real(provider=provider), max_attempts=2, backoff_base=0.01
    )


def test_provider_failing_always_ends_failed_with_its_error(
    setup, fake_openai, monkeypatch, client
):
    fake_openai.responder = responders.classification(CLASS_LABELS)
    first = drive(created_run(setup, 5))
    assert (first.status, first.dataset_version) == (RunStatus.SUCCEEDED, 1)
    fake_openai.script(fail_status=500, error_rate=1.0)
    monkeypatch.setattr(local, "provider_config", _quick_retries(local.provider_config))
    run = created_run(setup, 10, concurrency=2)
    run = drive(run)
    assert run.status == RunStatus.FAILED
    assert "500" in run.error
    assert run.events.filter(level="error").exists()
    assert Sample.objects.filter(run=run).count() == 0
    # It kept nothing, so it leaves no v2 behind that would only copy v1.
    assert run.dataset_version is None
    run.dataset.refresh_from_db()
    assert run.dataset.latest_version == 1
    assert list(run.dataset.versions.values_list("number", flat=True)) == [1]
    kept_nothing = f"No sample was kept, so {run.dataset.name} stays at v1."
    assert run.events.latest("id").message == kept_nothing
    client.force_login(setup[0].user)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f"{run.dataset.name}</a> <small" in page and "no version" in page
    listing = client.get("/runs/").content.decode()
    assert f"{run.dataset.name}</a> v1" in listing and "no version" in listing
    # The next run gets v2, and the failed run's page does not take it for its own.
    fake_openai.script(error_rate=0.0)
    again = drive(created_run(setup, 5))
    assert (again.status, again.dataset_version) == (RunStatus.SUCCEEDED, 2)
    assert "no version" in client.get(f"/runs/{run.pk}/").content.decode()


def test_a_first_run_that_keeps_nothing_leaves_its_dataset_empty_at_v1(
    setup, fake_openai, monkeypatch
):
    fake_openai.script(fail_status=500, error_rate=1.0)
    monkeypatch.setattr(local, "provider_config", _quick_retries(local.provider_config))
    run = drive(created_run(setup, 5, concurrency=2))
    assert (run.status, run.dataset_version) == (RunStatus.FAILED, 1)
    assert list(run.dataset.versions.values_list("number", "added_count")) == [(1, 0)]


def test_limits_are_400_naming_the_field(setup):
    from django.core.exceptions import ValidationError

    membership, provider, version = setup
    for field, value, text in [
        ("num_samples", 20_001, "1 to 20,000"),
        ("num_samples", 0, "1 to 20,000"),
        ("batch_size", 11, "1 to 10"),
        ("num_shots", 11, "0 to 10"),
    ]:
        kwargs = {"num_samples": 10, field: value}
        with pytest.raises(ValidationError) as info:
            services.run_create(
                membership=membership, spec_version=version, provider=provider, **kwargs
            )
        assert text in " ".join(info.value.message_dict[field])
    assert Run.objects.count() == 0


def test_a_call_budget_spent_on_failures_names_the_failure(setup, fake_openai, monkeypatch):
    fake_openai.script(fail_status=404, error_rate=1.0)  # e.g. a wrong base URL path
    monkeypatch.setattr(local, "provider_config", _quick_retries(local.provider_config))
    run = drive(created_run(setup, 5, concurrency=2))
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(f"Call budget of {run.call_budget} calls used up with 0 of 5")
    assert "; every call failed, the last with: " in run.error and "404" in run.error


def test_a_long_retry_after_makes_the_run_wait_without_failing_a_call(setup, fake_openai, settings):
    fake_openai.responder = responders.classification(CLASS_LABELS)
    fake_openai.enqueue({"status": 429, "retry_after": 30})
    run = created_run(setup, 10, concurrency=1)
    assert step(run, 0).kind == "wait"
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.failed_calls == 0 and run.calls == 0
    assert 29 <= (run.wait_until - run.heartbeat_at).total_seconds() <= 31
    assert run.events.filter(message__contains="asked to wait 30 s (Retry-After)").exists()
    line = f"Waiting for {run.provider.name} until {run.wait_until:%H:%M:%S} UTC (Retry-After)."
    assert line in selectors.run_progress(run).lines
    shown = RunOutput(run).data  # what GET /api/v1/runs/<id>/ answers
    assert shown["wait_until"] is not None and line in shown["detailed_status"]
    # A step delivered early does nothing but ask to be sent again.
    assert step(run, 1) is None
    assert len(fake_openai.requests) == 1
    # The reaper leaves a waiting run alone.
    settings.RUN_STALE_SECONDS = 0
    assert job_requeue_stale(kind_name="run") == []
    Run.objects.filter(pk=run.pk).update(wait_until=None)  # the time has come
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED and run.failed_calls == 0 and run.wait_until is None


def test_cancelling_a_waiting_run_ends_it_at_once(setup, fake_openai):
    fake_openai.enqueue({"status": 429, "retry_after": 120})
    run = created_run(setup, 10, concurrency=1)
    assert step(run, 0).kind == "wait"
    run = services.run_cancel(membership=setup[0], run=run)
    assert run.status == RunStatus.CANCELLED
    assert run.events.filter(message__contains="Cancelled while waiting").exists()
