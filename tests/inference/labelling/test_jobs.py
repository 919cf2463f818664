"""Labelling jobs: chunks, checkpoints, resume, cancel and failure."""

import pytest
from django.test import Client

from apps.datasets.models import DatasetVersion, Sample, VersionSource
from apps.inference import labelling_jobs
from apps.inference.models import Inference, LabellingJob, LabellingStatus
from tests.inference.labelling.helpers import new_job

pytestmark = pytest.mark.django_db


def test_job_runs_in_chunks_and_writes_a_dataset_version(owner, provider, fake_extract):
    texts = [f"Note {i}: Ada flew to {'Paris' if i % 3 else 'Berlin'}." for i in range(120)]
    texts[7] = "Note 7: FAIL this one"
    job = new_job(owner, texts)
    assert job.status == LabellingStatus.QUEUED and job.dataset_version == 1
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.added) == (LabellingStatus.RUNNING, 50, 1, 49)
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=100)
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 120, 119)
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
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    # A redelivered first chunk finds the checkpoint moved on and does nothing.
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    assert Sample.objects.filter(dataset=job.dataset).count() == 50
    assert Inference.objects.filter(task="label_ner").count() == 50
    # A worker died after committing chunk 0: the task for start=50 picks up from there.
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 70, 70)
    assert sorted(Sample.objects.filter(dataset=job.dataset).values_list("index", flat=True)) == (
        list(range(70))
    )


def test_the_task_chains_the_next_chunk_on_commit(
    owner, provider, fake_extract, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.inference import tasks

    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.labelling_chunk_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        job = new_job(owner, [f"Paris {i}" for i in range(60)])
    assert sent == [(job.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.labelling_chunk_task(job.pk, 0)
    assert sent[-1] == (job.pk, 50)


def test_stale_jobs_are_requeued_from_their_checkpoint(
    owner, provider, fake_extract, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.inference import tasks

    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.labelling_chunk_task, "delay", lambda *args: sent.append(args))
    job = new_job(owner, [f"Paris {i}" for i in range(80)])
    labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    fresh = new_job(owner, ["Berlin"], dataset_name="other")
    old = timezone.now() - timedelta(minutes=10)
    LabellingJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.labelling_reaper_task() == [job.pk]
    assert sent == [(job.pk, 50)]
    assert fresh.pk not in [job_id for job_id, _ in sent]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.labelling_reaper_task() == []  # its heartbeat was just refreshed


def test_cancel_stops_between_chunks_and_keeps_samples(owner, provider, fake_extract):
    job = new_job(owner, [f"Ada {i} in Paris" for i in range(120)])
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    labelling_jobs.labelling_job_cancel(membership=owner, job=job)
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    job.refresh_from_db()
    assert job.status == LabellingStatus.CANCELLED and job.added == 50
    assert DatasetVersion.objects.get(dataset=job.dataset).added_count == 50


def test_a_chunk_where_every_call_fails_fails_the_job(owner, provider, fake_extract):
    job = new_job(owner, [f"FAIL {i}" for i in range(10)])
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
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
