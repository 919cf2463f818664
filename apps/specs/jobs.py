"""Spec checks as a kind of job (apps/core/jobs.py, kind "spec_check"): one step judges
the version and writes its status together with the checkpoint."""

from typing import Any

from django.db import transaction

from apps.core.jobs import JobKind, Outcome

from .models import SpecCheck

KIND = "spec_check"


class SpecCheckKind(JobKind):
    name = KIND
    model = SpecCheck
    task_options = {"soft_time_limit": 60, "time_limit": 90}

    def load(self, pk: int) -> SpecCheck:
        return SpecCheck.objects.select_related("version__spec").get(pk=pk)

    def step(self, job: Any, *, step: int) -> Outcome:
        from .services import spec_version_check  # services enqueue this kind: import late

        with transaction.atomic():
            if not SpecCheck.objects.filter(pk=job.pk, steps_done=step).update(steps_done=step + 1):
                return Outcome.stale()
            version = spec_version_check(version=job.version)
        return Outcome.done(f"Version {version.number}: {version.get_status_display()}.")
