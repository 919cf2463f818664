"""Reads for withpi jobs, always scoped to the caller's project: another project's job,
or a run that is not a withpi job of this kind, does not exist (404)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from apps.core.inputs import is_id
from apps.datasets.models import Sample
from apps.runs.models import FINISHED, Run, RunEvent, RunOrigin
from apps.runs.selectors import run_progress

from .kinds import STATES, JobKind

LIST_LIMIT = 100


def job_list(*, project_id: int, kind: JobKind) -> QuerySet[Run]:
    return Run.objects.filter(
        project_id=project_id, origin=RunOrigin.WITHPI, dataset__task_type=kind.task_type
    ).order_by("-id")


def job_find(*, project_id: int, kind: JobKind, job_id: str) -> Run | None:
    if not is_id(job_id):
        return None
    return job_list(project_id=project_id, kind=kind).filter(pk=int(job_id)).first()


def job_page(*, project_id: int, kind: JobKind, status: str = "") -> list[Run]:
    """The newest LIST_LIMIT jobs, of one status or all."""
    jobs = job_list(project_id=project_id, kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return list(jobs[:LIST_LIMIT])


def job_items(
    *, run: Run | int, kind: JobKind, after: int = -1, limit: int | None = None
) -> list[tuple[int, Any]]:
    """(index, data item) of the job's samples after index `after`, in the order they were
    accepted: a stable order, whatever is added later."""
    samples = Sample.objects.filter(run=run, index__gt=after).order_by("index")
    rows = samples.values_list("index", "payload")
    return [
        (index or 0, kind.item(payload)) for index, payload in (rows[:limit] if limit else rows)
    ]


def job_status(run: Run, kind: JobKind, *, with_data: bool = True) -> dict[str, Any]:
    """withpi's DataGenerationStatus / SyntheticDataStatus of a run."""
    data = [item for _, item in job_items(run=run, kind=kind)] if with_data else None
    return {
        "job_id": str(run.pk),
        "state": STATES[run.status],
        "detailed_status": run_progress(run).lines,
        "data": data,
    }


@dataclass
class StreamPoll:
    finished: bool
    status: str
    error: str
    accepted: int
    # (cursor, line) pairs: sample indexes for the data stream, event ids for messages.
    rows: list[tuple[int, Any]]


def _run_state(run_id: int) -> tuple[bool, str, str, int]:
    status, error, accepted = Run.objects.values_list("status", "error", "accepted").get(pk=run_id)
    return status in FINISHED, status, error, accepted


def data_poll(*, run_id: int, kind: JobKind, after: int, limit: int) -> StreamPoll:
    """The run's state, then its items after `after`: read in that order, a finished run's
    last items are always in the answer that says it finished."""
    finished, status, error, accepted = _run_state(run_id)
    rows = job_items(run=run_id, kind=kind, after=after, limit=limit)
    return StreamPoll(finished, status, error, accepted, rows)


def messages_poll(*, run_id: int, after: int, limit: int) -> StreamPoll:
    finished, status, error, accepted = _run_state(run_id)
    events = RunEvent.objects.filter(run_id=run_id, pk__gt=after).order_by("id")
    rows = [
        (pk, f"[{at:%H:%M:%S}] {message}")
        for pk, at, message in events.values_list("pk", "created_at", "message")[:limit]
    ]
    return StreamPoll(finished, status, error, accepted, rows)
