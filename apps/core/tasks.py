"""The house Celery task decorator. Bare `shared_task` is banned (ruff TID251)."""

from collections.abc import Callable
from typing import Any

from celery import shared_task  # noqa: TID251 - the one sanctioned use
from django.conf import settings

RETRY_ON: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)


def seedbed_task(
    *,
    soft_time_limit: int = 240,
    time_limit: int = 300,
    max_retries: int = 5,
    retry_on: tuple[type[Exception], ...] = RETRY_ON,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task that is safe to redeliver. Queues are set in CELERY_TASK_ROUTES.

    acks_late + reject_on_worker_lost: a task killed mid-way (kill -9, OOM) goes back to
    the queue, so tasks must be idempotent. Time limits stay far below the broker's
    visibility timeout so a live task is never delivered twice.
    """
    return shared_task(
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        autoretry_for=retry_on,
        max_retries=max_retries,
        retry_backoff=True,
        retry_jitter=True,
        serializer="json",
    )


@seedbed_task(
    soft_time_limit=settings.JOB_STEP_SOFT_TIME_LIMIT,
    time_limit=settings.JOB_STEP_SOFT_TIME_LIMIT + 60,
)
def job_step_task(kind_name: str, pk: int, step: int) -> None:
    from . import jobs

    jobs.job_step(kind_name=kind_name, pk=pk, step=step)


@seedbed_task()
def job_reaper_task() -> dict[str, list[int]]:
    """For Celery beat: resume the jobs of every kind whose worker was lost."""
    from . import jobs

    resumed = {name: jobs.job_requeue_stale(kind_name=name) for name in jobs.KIND_PATHS}
    return {name: pks for name, pks in resumed.items() if pks}
