"""The ZIP of a run's files: asked for by the first download-all call, written by a job
(kind "dataframer_zip"), written again when an earlier attempt failed."""

from django.db import IntegrityError, transaction

from apps.core.jobs import JobStatus, job_enqueue
from apps.core.models import Membership

from .models import DataframerRun, RunArchive

KIND = "dataframer_zip"


def archive_request(*, membership: Membership, dataframer_run: DataframerRun) -> RunArchive:
    """The run's archive job, started now if there is none (or the last one failed)."""
    with transaction.atomic():
        archive = RunArchive.objects.select_for_update().filter(run=dataframer_run).first()
        if archive is not None and archive.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            archive.delete()
            archive = None
        if archive is None:
            try:
                with transaction.atomic():
                    archive = RunArchive.objects.create(run=dataframer_run)
            except IntegrityError:  # a concurrent first call made it
                return RunArchive.objects.get(run=dataframer_run)
            job_enqueue(kind_name=KIND, pk=archive.pk, step=0)
    return archive
