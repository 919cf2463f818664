"""Tenant-scoped reads of the inference history: every query takes the caller's project."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from .models import Inference, LabellingJob

MAX_LIMIT = 500
MAX_JOBS_PAGE = 100


def inference_list(
    *,
    project: Any,
    model_id: str | None = None,
    task: str | None = None,
    training_job_id: str | None = None,
    verdict: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Inference]:
    """The project's history rows, newest first. `verdict=""` means "no feedback yet"."""
    rows = Inference.objects.filter(project=project)
    if model_id:
        rows = rows.filter(model_id=model_id)
    if task:
        rows = rows.filter(task=task)
    if training_job_id:
        rows = rows.filter(training_job_id=training_job_id)
    if verdict is not None:
        rows = rows.filter(verdict=verdict)
    if status:
        rows = rows.filter(status=status)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    return list(rows.select_related("provider").order_by("-id")[offset : offset + limit])


def inference_get(*, project: Any, inference_id: int) -> Inference:
    """One history row of the project; 404 for other projects' rows and unknown ids."""
    try:
        return Inference.objects.select_related("provider").get(
            project=project, pk=int(inference_id)
        )
    except (Inference.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No such inference.") from exc


def _labelling_jobs(project: Any) -> Any:
    # The texts stay in the database: a job holds up to 10,000 of them.
    return LabellingJob.objects.filter(project=project).defer("texts", "lines")


def labelling_job_list(
    *, project: Any, before: int | None = None, limit: int = 20
) -> list[LabellingJob]:
    """The project's labelling jobs, newest first, older than job `before` if given."""
    jobs = _labelling_jobs(project)
    if before:
        jobs = jobs.filter(pk__lt=before)
    limit = max(1, min(int(limit), MAX_JOBS_PAGE))
    return list(jobs.order_by("-id")[:limit])


def labelling_job_get(*, project: Any, job_id: int) -> LabellingJob:
    """One labelling job of the project; 404 for other projects' jobs and unknown ids."""
    try:
        return _labelling_jobs(project).get(pk=int(job_id))
    except (LabellingJob.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No such labelling job.") from exc
