"""Celery tasks of the inference app: thin wrappers around labelling_jobs.py."""

from apps.core.tasks import seedbed_task

from . import labelling_jobs


@seedbed_task()
def labelling_chunk_task(job_id: int, start: int) -> None:
    if labelling_jobs.labelling_chunk_execute(job_id=job_id, start=start):
        labelling_jobs.labelling_enqueue(job_id=job_id, start=start + labelling_jobs.CHUNK_TEXTS)
