"""Celery tasks of datasets; they only hand primary keys to services."""

from apps.core.tasks import seedbed_task

from . import jobs


# A million-sample Parquet file takes about a minute; the limits leave a wide margin and
# stay under the broker's one-hour visibility timeout.
@seedbed_task(soft_time_limit=1500, time_limit=1600)
def export_run(job_id: int) -> None:
    jobs.export_job_execute(job_id=job_id)
