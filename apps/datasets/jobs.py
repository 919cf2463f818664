"""Export jobs as a kind of job (apps/core/jobs.py, kind "export"): one step writes the
whole file, to a temporary name renamed when complete, and records it on the row."""

import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from apps.core.jobs import JobKind, Outcome

from . import export
from .models import ExportJob

logger = logging.getLogger(__name__)

KIND = "export"
EXPORT_LOCK_CLASS = 7_100_001  # advisory-lock namespace of export jobs


class ExportJobKind(JobKind):
    name = KIND
    model = ExportJob
    queue = "default"
    # A million-sample Parquet file takes about a minute; the limits leave a wide margin and
    # stay under the broker's one-hour visibility timeout.
    task_options = {"soft_time_limit": 1500, "time_limit": 1600}

    def load(self, pk: int) -> ExportJob:
        return ExportJob.objects.select_related("dataset").get(pk=pk)

    def step(self, job: Any, *, step: int) -> Outcome:
        # A second live delivery (the reaper took a slow writer for a lost one) leaves the
        # file to the first; the lock dies with a killed worker's connection.
        if not _lock(job.pk):
            return Outcome.stale()
        try:
            return _write(job, step)
        finally:
            _unlock(job.pk)


def _lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])
        (locked,) = cursor.fetchone() or (False,)
    return bool(locked)


def _unlock(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])


def _write(job: ExportJob, step: int) -> Outcome:
    name = export.file_name(job.dataset, job.version, job.format, skip_rejected=job.skip_rejected)
    relative = f"exports/{job.project_id}/{job.pk}-{name}"
    path = Path(settings.MEDIA_ROOT) / relative
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Inside a transaction the server-side cursor streams; in autocommit it would be
        # WITH HOLD and materialise the whole version before the first row.
        with _beating(job.pk), transaction.atomic(), partial.open("wb") as sink:
            rows = export.export_to_file(
                job.dataset, job.version, job.format, sink, skip_rejected=job.skip_rejected
            )
        partial.replace(path)
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        return Outcome.failed(f"{type(exc).__name__}: {exc}"[:2000])
    recorded = ExportJob.objects.filter(pk=job.pk, steps_done=step).update(
        file=relative,
        rows=rows,
        size=path.stat().st_size,
        steps_done=step + 1,
        heartbeat_at=Now(),
    )
    return Outcome.done() if recorded else Outcome.stale()


class _beating:
    """Refresh the job's heartbeat from a thread while the file is written: a long export
    is not taken for one whose worker was lost."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> None:
        self.thread.start()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        every = max(0.05, min(5.0, settings.RUN_STALE_SECONDS / 3))
        try:
            while not self.stop.wait(every):
                # SKIP LOCKED: never wait on the row (the step's own caller may hold it).
                row = ExportJob.objects.select_for_update(skip_locked=True).filter(pk=self.job_id)
                ExportJob.objects.filter(pk__in=row.values("pk")).update(heartbeat_at=Now())
        finally:
            connection.close()  # this thread's own connection
