"""Labelling jobs as a kind of job (apps/core/jobs.py): steps, checkpoints, resume through
the generic reaper, cancel and failure."""

import pytest
from django.test import Client

from apps.core.jobs import job_requeue_stale
from apps.datasets.models import DatasetVersion, Sample, VersionSource
from apps.inference import labelling_jobs
from apps.inference.models import Inference, LabellingJob, LabellingStatus
from tests.inference.labelling.helpers import drive, new_job, step

pytestmark = pytest.mark.django_db


def test_job_runs_in_chunks_and_writes_a_dataset_version(owner, provider, fake_extract):
    texts = [f"Note {i}: Ada flew to {'Paris' if i % 3 else 'Berlin'}." for i in range(120)]
    texts[7] = "Note 7: FAIL this one"
    job = new_job(owner, texts)
    assert job.status == LabellingStatus.QUEUED and job.dataset_version == 1
    assert step(job).kind == "continue"
    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.added) == (LabellingStatus.RUNNING, 50, 1, 49)
    assert job.steps_done == 1
    assert step(job).kind == "continue"
    assert step(job).kind == "done"
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 120, 119)
    assert job.steps_done == 3 and job.finished_at
    version = DatasetVersion.objects.get(dataset=job.dataset, number=1)
    assert version.source == VersionSource.LABELLING and version.added_count == 119
    sample = Sample.objects.get(dataset=job.dataset, index=1)
    assert sample.payload == {
        "text": texts[1],
        "entities": [
            {"text": "Ada", "label": "person", "start": 8, "end": 11},
            {"text": "Paris", "label": "city", "start": 20, "end": 25},
        ],
    }
    assert sample.labels == ["city", "person"]
    assert sample.lineage["labelling_job_id"] == job.pk and sample.lineage["line"] == 2
    client = Client()
    client.force_login(owner.user)
    page = client.get(f"/datasets/{job.dataset_id}/").content.decode()
    assert f'<a href="/inference/label/{job.pk}/">labelling job #{job.pk}</a>' in page
    assert Inference.objects.get(pk=sample.lineage["inference_id"]).task == "label_ner"


def test_chunks_resume_from_the_checkpoint_and_redelivery_changes_nothing(
    owner, provider, fake_extract
):
    texts = [f"Entry {i} from Grace in Berlin" for i in range(70)]
    job = new_job(owner, texts)
    assert step(job, 0).kind == "continue"
    # A redelivered first step finds the checkpoint moved on and does nothing.
    assert step(job, 0) is None
    assert Sample.objects.filter(dataset=job.dataset).count() == 50
    assert Inference.objects.filter(task="label_ner").count() == 50
    # A worker died after committing step 0: step 1 picks up from there.
    assert step(job, 1).kind == "done"
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 70, 70)
    assert sorted(Sample.objects.filter(dataset=job.dataset).values_list("index", flat=True)) == (
        list(range(70))
    )


def test_the_task_chains_the_next_step_on_commit(
    owner, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    from apps.core.tasks import job_step_task

    with django_capture_on_commit_callbacks(execute=True):
        job = new_job(owner, [f"Paris {i}" for i in range(60)])
    assert sent == [("labelling", job.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        job_step_task("labelling", job.pk, 0)
    assert sent[-1] == ("labelling", job.pk, 1)
    with django_capture_on_commit_callbacks(execute=True):
        job_step_task("labelling", job.pk, 1)
    assert len(sent) == 2  # the job ended: nothing more to send
    job.refresh_from_db()
    assert job.status == LabellingStatus.SUCCEEDED


class WorkerKilled(BaseException):
    """What kill -9 looks like from inside: nothing after it runs."""


def test_a_job_killed_mid_way_resumes_through_the_generic_reaper_without_duplicates(
    owner, provider, fake_extract, sent, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.tasks import job_reaper_task

    texts = [f"Entry {i}: Ada flew to Paris" for i in range(120)]
    job = new_job(owner, texts)
    assert step(job).kind == "continue"
    # Step 1 makes its calls, then the worker dies before committing them.
    commit = labelling_jobs._commit

    def killed(*args, **kwargs):
        raise WorkerKilled

    monkeypatch.setattr(labelling_jobs, "_commit", killed)
    with pytest.raises(WorkerKilled):
        step(job)
    monkeypatch.setattr(labelling_jobs, "_commit", commit)
    job.refresh_from_db()
    assert (job.status, job.steps_done, job.done) == (LabellingStatus.RUNNING, 1, 50)
    fresh = new_job(owner, ["Berlin"], dataset_name="other")

    settings.RUN_STALE_SECONDS = 30
    with django_capture_on_commit_callbacks(execute=True):
        assert job_requeue_stale(kind_name="labelling") == []  # its heartbeat is recent
    LabellingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=31)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert job_requeue_stale(kind_name="labelling") == [job.pk]
    assert sent == [("labelling", job.pk, 1)]  # the lost step again; not the fresh job
    with django_capture_on_commit_callbacks(execute=True):
        assert job_reaper_task() == {}  # the heartbeat was just refreshed

    # The re-sent step and the broker's own redelivery of the lost one: one of them runs.
    assert step(job, 1).kind == "continue"
    assert step(job, 1) is None
    job = drive(job)
    assert (job.status, job.done, job.added, job.steps_done) == (
        LabellingStatus.SUCCEEDED,
        120,
        120,
        3,
    )
    indexes = Sample.objects.filter(dataset=job.dataset).values_list("index", flat=True)
    assert sorted(indexes) == list(range(120))
    assert Inference.objects.filter(task="label_ner").count() == 120
    assert DatasetVersion.objects.get(dataset=job.dataset).added_count == 120
    fresh.refresh_from_db()
    assert fresh.status == LabellingStatus.QUEUED


def test_cancel_stops_between_chunks_and_keeps_samples(owner, provider, fake_extract):
    job = new_job(owner, [f"Ada {i} in Paris" for i in range(120)])
    assert step(job).kind == "continue"
    labelling_jobs.labelling_job_cancel(membership=owner, job=job)
    job.refresh_from_db()
    assert job.status == LabellingStatus.RUNNING and job.cancel_requested
    assert step(job).kind == "cancelled"
    job.refresh_from_db()
    assert job.status == LabellingStatus.CANCELLED and job.added == 50 and job.finished_at
    assert DatasetVersion.objects.get(dataset=job.dataset).added_count == 50


def test_cancel_ends_a_queued_job_at_once(
    owner, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = new_job(owner, [f"Ada {i} in Paris" for i in range(120)])
    with django_capture_on_commit_callbacks(execute=True):
        ended = labelling_jobs.labelling_job_cancel(membership=owner, job=job)
    assert ended.status == LabellingStatus.CANCELLED and ended.finished_at
    assert ended.cancel_requested and ended.done == 0
    # Its (first, empty) version is closed, and the step already sent finds nothing to do.
    assert DatasetVersion.objects.get(dataset=job.dataset, number=1).added_count == 0
    assert step(job, 0) is None
    assert sent == [("labelling", job.pk, 0)]
    assert not Sample.objects.filter(dataset=job.dataset).exists()


def test_a_chunk_where_every_call_fails_fails_the_job(owner, provider, fake_extract):
    job = new_job(owner, [f"FAIL {i}" for i in range(10)])
    assert step(job).kind == "failed"
    job.refresh_from_db()
    assert job.status == LabellingStatus.FAILED and "could not be reached" in job.error


def test_job_checks_model_and_dataset_type(owner, provider, fake_extract):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as missing:
        new_job(owner, ["Paris"], model_id="nope/x")
    assert "model_id" in missing.value.message_dict
    new_job(owner, ["Paris"], dataset_name="mixed")
    with pytest.raises(ValidationError) as mixed:
        new_job(owner, ["Paris"], dataset_name="mixed", task="classification", labels=["a"])
    assert "dataset_name" in mixed.value.message_dict
