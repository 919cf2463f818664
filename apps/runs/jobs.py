"""Runs as a kind of job (apps/core/jobs.py): each step is a step of the run's engine."""

from typing import Any

from apps.core.jobs import JobKind, Outcome
from apps.datasets.services import dataset_version_finish

from .engines.registry import engine_for
from .models import Run


class RunJob(JobKind):
    name = "run"
    model = Run
    queue = "runs"

    def load(self, pk: int) -> Run:
        return Run.objects.select_related("spec_version__spec", "provider", "dataset").get(pk=pk)

    def step(self, job: Any, *, step: int) -> Outcome:
        return engine_for(job).step(job, step=step)

    def event(self, job: Any, message: str, *, level: str = "info") -> None:
        from .services import run_event

        run_event(run=job, message=message, level=level)

    def finished(self, job: Any, outcome: Outcome) -> None:
        # The version is complete: its counts are stored so browsing never counts rows.
        number = job.dataset_version
        assert number is not None
        if not dataset_version_finish(dataset_id=job.dataset_id, number=number):
            Run.objects.filter(pk=job.pk).update(dataset_version=None)
            self.event(job, f"No sample was kept, so {job.dataset.name} stays at v{number - 1}.")
