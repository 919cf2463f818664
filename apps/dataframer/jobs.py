"""The Dataframer API's kinds of job (apps/core/jobs.py): writing a spec from seeds
("dataframer_spec") and zipping a run's files ("dataframer_zip"). Each is one step that
commits its result together with the checkpoint."""

import logging
from typing import Any

from django.db import transaction

from apps.core.jobs import JobKind, Outcome

from .models import GeneratedSpec, RunArchive

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000


def _reason(exc: Exception) -> str:
    message = getattr(exc, "user_message", "") or getattr(exc, "message_dict", "") or str(exc)
    return f"{message or type(exc).__name__}"[:MAX_ERROR_CHARS]


class SpecGenerationKind(JobKind):
    name = "dataframer_spec"
    model = GeneratedSpec
    # One model call of up to a few thousand tokens.
    task_options = {"soft_time_limit": 300, "time_limit": 330}

    def load(self, pk: int) -> GeneratedSpec:
        return GeneratedSpec.objects.select_related(
            "seed_dataset", "provider", "created_by", "spec"
        ).get(pk=pk)

    def step(self, job: Any, *, step: int) -> Outcome:
        from .spec_services import generated_spec_build  # services enqueue this kind

        if job.spec_id is not None:
            return Outcome.done("Spec written.")
        try:
            generated_spec_build(spec=job)
        except Exception as exc:
            logger.warning("spec %s: generation failed: %s", job.pk, exc)
            return Outcome.failed(_reason(exc))
        GeneratedSpec.objects.filter(pk=job.pk, steps_done=step).update(steps_done=step + 1)
        return Outcome.done("Spec written.")


class ArchiveKind(JobKind):
    name = "dataframer_zip"
    model = RunArchive
    task_options = {"soft_time_limit": 900, "time_limit": 960}

    def load(self, pk: int) -> RunArchive:
        return RunArchive.objects.select_related("run__run", "run__spec__seed_dataset").get(pk=pk)

    def step(self, job: Any, *, step: int) -> Outcome:
        from .files import archive_write

        try:
            relative, size = archive_write(archive=job)
        except Exception as exc:
            logger.exception("archive %s failed", job.pk)
            return Outcome.failed(_reason(exc))
        with transaction.atomic():
            RunArchive.objects.filter(pk=job.pk, steps_done=step).update(
                file=relative, size_bytes=size, steps_done=step + 1
            )
        return Outcome.done(f"ZIP written ({size:,} bytes).")
