"""Celery tasks of the inference app: thin wrappers around labelling_jobs.py."""

from django.conf import settings

from apps.core.tasks import seedbed_task

from . import labelling_jobs


@seedbed_task()
def labelling_chunk_task(job_id: int, start: int) -> None:
    if labelling_jobs.labelling_chunk_execute(job_id=job_id, start=start):
        labelling_jobs.labelling_enqueue(job_id=job_id, start=start + labelling_jobs.CHUNK_TEXTS)


@seedbed_task()
def labelling_reaper_task() -> list[int]:
    """For Celery beat (CELERY_BEAT_SCHEDULE): jobs stale for longer than a chunk can live."""
    stale_after = settings.CELERY_TASK_TIME_LIMIT + 60
    return labelling_jobs.labelling_requeue_stale(stale_after_seconds=stale_after)
