"""Labelling jobs: a file of texts labelled by a model into a new dataset version.

A labelling job is a kind of job (apps/core/jobs.py, kind "labelling"): step N labels the
next `CHUNK_TEXTS` texts, from `done`, and commits their samples, history rows, counters
and the checkpoint `steps_done = N + 1` in one transaction under the job's row lock, after
checking the checkpoint again. The generic lifecycle claims steps, sends the next one on
commit, cancels, and resumes jobs whose worker was lost (the reaper). A redelivered step
redoes lost work or changes nothing (samples are keyed by their text within the dataset).
"""

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Now
from django.http import Http404
from django.utils import timezone

from apps.core.jobs import JobKind, Outcome, job_cancel, job_enqueue
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
from .models import LabellingJob

T = TypeVar("T")

KIND = "labelling"
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
        job_enqueue(kind_name=KIND, pk=job.pk, step=0)
    return job


def labelling_job_cancel(*, membership: Membership, job: LabellingJob) -> LabellingJob:
    """A queued job stops at once; a running one after the step in flight. The samples
    committed so far stay in the dataset."""
    require_editor(membership)
    job_cancel(kind_name=KIND, pk=job.pk)
    return LabellingJob.objects.defer("texts", "lines").get(pk=job.pk)


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


class LabellingJobKind(JobKind):
    name = KIND
    model = LabellingJob
    queue = "default"

    def load(self, pk: int) -> LabellingJob:
        # The texts stay in the database: each step reads only its slice.
        return (
            LabellingJob.objects.select_related("project", "user")
            .defer("texts", "lines")
            .get(pk=pk)
        )

    def step(self, job: Any, *, step: int) -> Outcome:
        """Label texts [done, done + 50) and commit them with checkpoint step + 1."""
        from apps.core.llm import run_sync

        if job.cancel_requested:
            return Outcome.cancelled()
        if job.done >= job.total:
            # The last step committed but its worker died before ending the job.
            return Outcome.done()
        try:
            provider, upstream_model = labelling.resolve(job.project, job.model_id)
        except Http404:
            return Outcome.failed(f"The model {job.model_id!r} no longer exists in this project.")
        start = job.done
        texts, lines = _texts_slice(job.pk, start, start + CHUNK_TEXTS)
        schema = labelling.extraction_schema(job.task, job.labels, job.multi_label)
        outcomes = run_sync(
            _extract_beating,
            job_id=job.pk,
            provider=provider,
            upstream_model=upstream_model,
            texts=texts,
            schema=schema,
            threshold=job.threshold,
        )
        return _commit(job, step, start, lines, outcomes, provider, upstream_model, schema)

    def finished(self, job: Any, outcome: Outcome) -> None:
        # The version is complete: its counts are stored so browsing never counts rows.
        if job.dataset_id and job.dataset_version:
            kept = dataset_version_finish(dataset_id=job.dataset_id, number=job.dataset_version)
            if not kept:
                LabellingJob.objects.filter(pk=job.pk).update(dataset_version=None)


async def _extract_beating(*, job_id: int, **kwargs: Any) -> list[labelling.Outcome]:
    """`labelling.extract_all`, refreshing the job's heartbeat while the calls run: a step
    of slow calls (seconds per text with the embedded model) is not taken for lost."""

    @sync_to_async
    def beat() -> None:
        LabellingJob.objects.filter(pk=job_id).update(heartbeat_at=Now())

    async def keep_beating() -> None:
        every = max(0.05, min(5.0, settings.RUN_STALE_SECONDS / 3))
        while True:
            await asyncio.sleep(every)
            await beat()

    beating = asyncio.ensure_future(keep_beating())
    try:
        return await labelling.extract_all(**kwargs)
    finally:
        beating.cancel()


@transaction.atomic
def _commit(
    job: LabellingJob,
    step: int,
    start: int,
    lines: list[int],
    outcomes: list[labelling.Outcome],
    provider: Any,
    upstream_model: str,
    schema: dict[str, Any],
) -> Outcome:
    locked = LabellingJob.objects.select_for_update().defer("texts", "lines").get(pk=job.pk)
    if locked.steps_done != step or locked.is_finished:
        return Outcome.stale()  # another delivery of this step already committed
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
    locked.steps_done = step + 1
    locked.failed += failed
    locked.added += len(inserted)
    locked.input_tokens += sum(o.input_tokens for o in outcomes)
    locked.output_tokens += sum(o.output_tokens for o in outcomes)
    locked.heartbeat_at = timezone.now()
    locked.save(
        update_fields=[
            "done",
            "steps_done",
            "failed",
            "added",
            "input_tokens",
            "output_tokens",
            "heartbeat_at",
        ]
    )
    if outcomes and all(o.error for o in outcomes):
        # The whole chunk failed: the provider is down or refusing, not one odd text.
        error = f"Every call of texts {start + 1}–{locked.done} failed: {outcomes[0].error}"
        return Outcome.failed(error[:2000])
    if locked.done >= locked.total:
        return Outcome.done()
    # job_act turns this into "cancelled" when a cancel was asked meanwhile.
    return Outcome.go_on()
