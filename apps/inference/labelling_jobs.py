"""Labelling jobs: a file of texts labelled by a model into a new dataset version.

Same shape as a run's chunks (apps/runs/chunks.py): a chunk starts at text `start` and
only runs while the job's checkpoint `done` still equals `start`; it commits its samples,
history rows and the new checkpoint in one transaction under the job's row lock, after
checking `done` again, and the next chunk is enqueued on commit. A redelivered chunk
redoes lost work or changes nothing (samples are keyed by their text within the dataset).
"""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.http import Http404
from django.utils import timezone

from apps.core.models import Membership
from apps.core.services import require_editor
from apps.datasets.models import Dataset, VersionSource
from apps.datasets.services import (
    MAX_DATASET_NAME,
    NewSample,
    dataset_version_create,
    dataset_version_finish,
    samples_insert,
)
from apps.specs.texts import text_hash

from . import labelling
from .models import LabellingJob, LabellingStatus

T = TypeVar("T")

CHUNK_TEXTS = 50
MAX_FILE_TEXTS = 10_000


def _checked(
    errors: dict[str, list[str]], check: Callable[..., T], *args: Any, **kwargs: Any
) -> T | None:
    """`check(...)`'s answer, or None with its ValidationError's messages in `errors`."""
    try:
        return check(*args, **kwargs)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
        return None


def labelling_job_create(
    *,
    membership: Membership,
    task: str,
    labels: Any,
    texts: list[str],
    dataset_name: str,
    lines: list[int] | None = None,
    model_id: str = "",
    multi_label: bool = False,
    threshold: float = labelling.DEFAULT_THRESHOLD,
    file_name: str = "",
    user: Any = None,
) -> LabellingJob:
    """Check everything, open the dataset version, save the job and enqueue its first chunk.

    `lines` are the texts' lines in an uploaded file (errors name them); without them, as
    from the API, errors name `texts[i]` and each sample's lineage `line` is its position.
    """
    require_editor(membership)
    project = membership.project
    # Every problem at once, each under its field: a caller fixes them in one go.
    errors: dict[str, list[str]] = {}
    if task not in labelling.TASKS:
        errors["task"] = [f"task must be one of {', '.join(labelling.TASKS)}."]
    labels = _checked(errors, labelling.labels_check, labels)
    _checked(errors, labelling.texts_check, texts, max_texts=MAX_FILE_TEXTS, where=lines)
    checked_threshold = _checked(errors, labelling.threshold_check, threshold)
    name = (dataset_name or "").strip()
    existing = Dataset.objects.filter(project=project, name=name).first() if name else None
    if not name or len(name) > MAX_DATASET_NAME:
        errors["dataset_name"] = ["dataset_name must be 1 to 120 characters."]
    elif existing is not None and existing.task_type != task:
        held = existing.task_type
        errors["dataset_name"] = [f"Dataset {name!r} holds {held} samples, not {task}."]
    model_id = model_id or labelling.default_model_id()
    try:
        labelling.resolve(project, model_id)
    except Http404:
        errors["model_id"] = [f"No model {model_id!r} in this project."]
    if errors:
        raise ValidationError(errors)
    assert labels is not None and checked_threshold is not None
    threshold = checked_threshold
    lines = lines if lines is not None else list(range(1, len(texts) + 1))
    with transaction.atomic():
        version = dataset_version_create(
            project=project,
            name=name,
            task_type=task,
            source=VersionSource.LABELLING,
            user=user,
            note=f"Labelled {file_name or 'texts'} with {model_id}"[:300],
        )
        job = LabellingJob.objects.create(
            project=project,
            user=user if user is not None and user.is_authenticated else None,
            task=task,
            labels=labels,
            multi_label=multi_label and task == "classification",
            model_id=model_id,
            threshold=threshold,
            file_name=file_name[:255],
            texts=texts,
            lines=lines,
            dataset_name=name,
            dataset=version.dataset,
            dataset_version=version.number,
            total=len(texts),
            heartbeat_at=timezone.now(),
        )
        labelling_enqueue(job_id=job.pk, start=0)
    return job


def labelling_enqueue(*, job_id: int, start: int) -> None:
    from .tasks import labelling_chunk_task

    transaction.on_commit(lambda: labelling_chunk_task.delay(job_id, start))


def labelling_requeue_stale(*, stale_after_seconds: float) -> list[int]:
    """Re-send the next chunk of unfinished jobs nobody has touched for a while (a lost
    queue message, a worker killed between chunks); returns their ids.

    A chunk in flight refreshes nothing until it commits, so `stale_after_seconds` must
    exceed the task's hard time limit: then a stale job has no live chunk.
    """
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    stale = LabellingJob.objects.filter(
        status__in=[LabellingStatus.QUEUED, LabellingStatus.RUNNING], heartbeat_at__lt=cutoff
    ).values_list("pk", "done")
    requeued = []
    for job_id, done in stale:
        with transaction.atomic():
            if LabellingJob.objects.filter(pk=job_id, done=done).update(heartbeat_at=Now()):
                labelling_enqueue(job_id=job_id, start=done)
                requeued.append(job_id)
    return requeued


def labelling_job_cancel(*, membership: Membership, job: LabellingJob) -> LabellingJob:
    """Stop after the chunk in flight; the samples committed so far stay in the dataset."""
    require_editor(membership)
    with transaction.atomic():
        locked = LabellingJob.objects.select_for_update().defer("texts", "lines").get(pk=job.pk)
        if not locked.is_finished:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
            if locked.status == LabellingStatus.QUEUED:
                labelling_finish(job_id=locked.pk, status=LabellingStatus.CANCELLED)
    return LabellingJob.objects.defer("texts", "lines").get(pk=job.pk)


def labelling_finish(*, job_id: int, status: str, error: str = "") -> None:
    """End a job once (later calls change nothing) and close its dataset version."""
    with transaction.atomic():
        ended = LabellingJob.objects.filter(
            pk=job_id, status__in=[LabellingStatus.QUEUED, LabellingStatus.RUNNING]
        ).update(status=status, error=error[:2000], finished_at=Now())
        if not ended:
            return
        job = LabellingJob.objects.only("dataset_id", "dataset_version").get(pk=job_id)
        if job.dataset_id and job.dataset_version:
            kept = dataset_version_finish(dataset_id=job.dataset_id, number=job.dataset_version)
            if not kept:
                LabellingJob.objects.filter(pk=job_id).update(dataset_version=None)


def _texts_slice(job_id: int, start: int, stop: int) -> tuple[list[str], list[int]]:
    """Only this chunk's texts leave the database, not the whole file every chunk."""
    path = f"$[{int(start)} to {int(stop) - 1}]"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT jsonb_path_query_array(texts, %s::jsonpath), "
            "jsonb_path_query_array(lines, %s::jsonpath) "
            "FROM inference_labellingjob WHERE id = %s",
            [path, path, job_id],
        )
        texts, lines = cursor.fetchone()
    if isinstance(texts, str):  # a driver that hands jsonb back undecoded
        texts, lines = json.loads(texts), json.loads(lines)
    return list(texts), list(lines)


def _claim(job_id: int, start: int) -> LabellingJob | None:
    claimed = LabellingJob.objects.filter(
        pk=job_id,
        status__in=[LabellingStatus.QUEUED, LabellingStatus.RUNNING],
        done=start,
    ).update(
        status=LabellingStatus.RUNNING,
        heartbeat_at=Now(),
        started_at=Coalesce(F("started_at"), Now()),
    )
    if not claimed:
        return None
    return (
        LabellingJob.objects.select_related("project", "user")
        .defer("texts", "lines")
        .get(pk=job_id)
    )


def labelling_chunk_execute(*, job_id: int, start: int) -> bool:
    """Label texts [start, start + 50) of a job; True if another chunk should follow."""
    from apps.core.llm import run_sync

    job = _claim(job_id, start)
    if job is None:
        return False
    if job.cancel_requested:
        labelling_finish(job_id=job_id, status=LabellingStatus.CANCELLED)
        return False
    try:
        provider, upstream_model = labelling.resolve(job.project, job.model_id)
    except Http404:
        error = f"The model {job.model_id!r} no longer exists in this project."
        labelling_finish(job_id=job_id, status=LabellingStatus.FAILED, error=error)
        return False
    texts, lines = _texts_slice(job_id, start, start + CHUNK_TEXTS)
    schema = labelling.extraction_schema(job.task, job.labels, job.multi_label)
    outcomes = run_sync(
        labelling.extract_all,
        provider=provider,
        upstream_model=upstream_model,
        texts=texts,
        schema=schema,
        threshold=job.threshold,
    )
    return _commit(job, start, lines, outcomes, provider, upstream_model, schema)


@transaction.atomic
def _commit(
    job: LabellingJob,
    start: int,
    lines: list[int],
    outcomes: list[labelling.Outcome],
    provider: Any,
    upstream_model: str,
    schema: dict[str, Any],
) -> bool:
    locked = LabellingJob.objects.select_for_update().defer("texts", "lines").get(pk=job.pk)
    if locked.done != start or locked.is_finished:
        return False  # another delivery of this chunk already committed
    labelling.outcomes_record(
        project=job.project,
        task=job.task,
        model_id=job.model_id,
        provider=provider,
        upstream_model=upstream_model,
        outcomes=outcomes,
        schema=schema,
        threshold=job.threshold,
        labels=job.labels,
        multi_label=job.multi_label,
        user=job.user,
        extra={"labelling_job_id": job.pk},
    )
    samples, failed = [], 0
    for offset, (outcome, line) in enumerate(zip(outcomes, lines, strict=True)):
        checked = None
        if not outcome.error:
            checked = labelling.sample_of(job.task, outcome.annotation, job.labels, job.multi_label)
        if checked is None or not checked.ok:
            failed += 1  # its history row says why
            continue
        samples.append(
            NewSample(
                payload=checked.payload,
                text=checked.text,
                text_hash=text_hash(checked.text),
                labels=checked.labels,
                lineage={
                    "labelling_job_id": job.pk,
                    "model_id": job.model_id,
                    "inference_id": outcome.inference_id,
                    "line": line,
                },
                index=start + offset,
            )
        )
    inserted = samples_insert(
        dataset_id=locked.dataset_id or 0,
        version=locked.dataset_version or 0,
        run_id=None,
        samples=samples,
    )
    locked.done = start + len(outcomes)
    locked.failed += failed
    locked.added += len(inserted)
    locked.input_tokens += sum(o.input_tokens for o in outcomes)
    locked.output_tokens += sum(o.output_tokens for o in outcomes)
    locked.heartbeat_at = timezone.now()
    locked.save()
    if outcomes and all(o.error for o in outcomes):
        # The whole chunk failed: the provider is down or refusing, not one odd text.
        error = f"Every call of texts {start + 1}–{locked.done} failed: {outcomes[0].error}"
        labelling_finish(job_id=job.pk, status=LabellingStatus.FAILED, error=error)
        return False
    if locked.done >= locked.total:
        labelling_finish(job_id=job.pk, status=LabellingStatus.SUCCEEDED)
        return False
    if locked.cancel_requested:
        labelling_finish(job_id=job.pk, status=LabellingStatus.CANCELLED)
        return False
    return True
