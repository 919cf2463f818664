"""Celery tasks of runs: thin wrappers around chunks.py and services.py."""

from django.conf import settings

from apps.core.tasks import seedbed_task

from . import chunks, services
from .models import Run


@seedbed_task()
def run_chunk_task(run_id: int, chunk: int) -> None:
    next_chunk = chunks.chunk_execute(run_id=run_id, chunk=chunk)
    if next_chunk is not None:
        services.run_enqueue(run=Run(pk=run_id), chunk=next_chunk)


@seedbed_task()
def run_reaper_task() -> list[int]:
    return services.run_requeue_stale(stale_after_seconds=settings.RUN_STALE_SECONDS)
