"""Running export jobs on a worker (the task body of `tasks.export_run`)."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import export
from .models import ExportJob, ExportStatus

logger = logging.getLogger(__name__)

EXPORT_LOCK_CLASS = 7_100_001  # advisory-lock namespace of export jobs


def _export_claim(job_id: int) -> ExportJob | None:
    """The job, marked RUNNING, if this delivery should write it.

    A redelivered task whose first attempt died (worker killed) finds the job RUNNING but
    unlocked: the session advisory lock died with the first attempt's connection.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])
        (locked,) = cursor.fetchone() or (False,)
    if not locked:
        return None  # another live delivery is writing it
    claimed = ExportJob.objects.filter(
        pk=job_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.RUNNING, started_at=timezone.now(), error="")
    if not claimed:
        _export_unlock(job_id)
        return None
    return ExportJob.objects.select_related("dataset").get(pk=job_id)


def _export_unlock(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])


def export_job_execute(*, job_id: int) -> ExportJob | None:
    """Write the job's file (to a temporary name, renamed when complete)."""
    job = _export_claim(job_id)
    if job is None:
        return None
    name = export.file_name(job.dataset, job.version, job.format, skip_rejected=job.skip_rejected)
    relative = f"exports/{job.project_id}/{job.pk}-{name}"
    path = Path(settings.MEDIA_ROOT) / relative
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Inside a transaction the server-side cursor streams; in autocommit it would be
        # WITH HOLD and materialise the whole version before the first row.
        with transaction.atomic(), partial.open("wb") as sink:
            rows = export.export_to_file(
                job.dataset, job.version, job.format, sink, skip_rejected=job.skip_rejected
            )
        partial.replace(path)
        job.status, job.file, job.rows = ExportStatus.SUCCEEDED, relative, rows
        job.size = path.stat().st_size
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        job.status, job.error = ExportStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "file", "rows", "size", "error", "finished_at"])
        _export_unlock(job.pk)
    return job
