"""One lifecycle for every background job: runs, labelling jobs, exports, spec checks.

A job is a row (the truth about its progress) and a sequence of short, idempotent steps:

    claim (a conditional UPDATE: the step's number must equal the row's checkpoint)
      → the kind's `step()`, which commits its results together with the next checkpoint
      → an `Outcome`: continue, wait N seconds, done, failed or cancelled.

`continue` and `wait` send the next step once the transaction commits (a wait as a
countdown: no worker sleeps); the other outcomes end the job once. The reaper re-sends
the step of any unfinished job whose heartbeat stopped, whatever its kind; cancelling is a
flag in the row that each kind looks at between its units of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Literal

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.module_loading import import_string


class JobStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """The fields every job row has; each kind adds its own."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set while the job waits for something outside (a long Retry-After, a remote job):
    # no step runs before this time.
    wait_until = models.DateTimeField(null=True, blank=True)
    # The checkpoint: how many steps have committed.
    steps_done = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


# "stale": another delivery of the same step committed first and carries on; this one
# does nothing more.
OutcomeKind = Literal["continue", "wait", "done", "failed", "cancelled", "stale"]


@dataclass(frozen=True)
class Outcome:
    """What a step decided. `message` goes to the job's log (the error, for `failed`)."""

    kind: OutcomeKind
    seconds: float = 0.0
    message: str = ""

    @classmethod
    def go_on(cls) -> Outcome:
        return cls("continue")

    @classmethod
    def wait(cls, seconds: float, message: str = "") -> Outcome:
        return cls("wait", seconds=seconds, message=message)

    @classmethod
    def done(cls, message: str = "") -> Outcome:
        return cls("done", message=message)

    @classmethod
    def failed(cls, error: str) -> Outcome:
        return cls("failed", message=error)

    @classmethod
    def stale(cls) -> Outcome:
        return cls("stale")

    @classmethod
    def cancelled(cls, message: str = "Cancelled by a user.") -> Outcome:
        return cls("cancelled", message=message)

    @property
    def status(self) -> str:
        return {
            "done": JobStatus.SUCCEEDED,
            "failed": JobStatus.FAILED,
            "cancelled": JobStatus.CANCELLED,
        }[self.kind]


class JobKind:
    """What one kind of job does; registered in `KINDS` by name.

    Subclasses set `model` and implement `step()`; they may override `finish()` (to close
    what the job opened, e.g. a dataset version) and `event()` (to log to the job's page).
    """

    name: ClassVar[str]
    model: ClassVar[type[Job]]
    queue: ClassVar[str] = "default"
    # Celery options of this kind's steps, e.g. longer time limits for a step that writes
    # a whole file (apps/datasets/jobs.py).
    task_options: ClassVar[dict[str, Any]] = {}

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a running job has lost its worker."""
        return float(settings.RUN_STALE_SECONDS)

    def step(self, job: Any, *, step: int) -> Outcome:
        raise NotImplementedError

    def load(self, pk: int) -> Any:
        return self.model._default_manager.get(pk=pk)

    def event(self, job: Any, message: str, *, level: str = "info") -> None:
        """Log a line about the job (kinds without a log ignore it)."""

    def finished(self, job: Any, outcome: Outcome) -> None:
        """Called once, in the transaction that ends the job."""


# name → dotted path of a JobKind subclass; imported on first use so that core needs no
# import of the apps that define the kinds.
KIND_PATHS: dict[str, str] = {
    "run": "apps.runs.jobs.RunJob",
    "labelling": "apps.inference.labelling_jobs.LabellingJobKind",
    "export": "apps.datasets.jobs.ExportJobKind",
    "spec_check": "apps.specs.jobs.SpecCheckKind",
    "dataframer_spec": "apps.dataframer.jobs.SpecGenerationKind",
    "dataframer_zip": "apps.dataframer.jobs.ArchiveKind",
}
_kinds: dict[str, JobKind] = {}


def kind_named(name: str) -> JobKind:
    if name not in _kinds:
        _kinds[name] = import_string(KIND_PATHS[name])()
    return _kinds[name]


def job_claim(kind: JobKind, *, pk: int, step: int) -> bool:
    """Mark the job RUNNING if `step` is its next step and it is not waiting."""
    return bool(
        kind.model._default_manager.filter(pk=pk, status__in=UNFINISHED, steps_done=step)
        .filter(Q(wait_until__isnull=True) | Q(wait_until__lte=Now()))
        .update(
            status=JobStatus.RUNNING,
            heartbeat_at=Now(),
            started_at=Coalesce(F("started_at"), Now()),
            wait_until=None,
        )
    )


def job_step(*, kind_name: str, pk: int, step: int) -> Outcome | None:
    """Run step `step` of a job and act on its outcome (the body of `job_step_task`);
    the outcome, or None when the step was not this delivery's to run."""
    kind = kind_named(kind_name)
    if not job_claim(kind, pk=pk, step=step):
        # Arrived before the time the job waits for (a redelivery): send it again then.
        waiting = kind.model._default_manager.filter(
            pk=pk, status__in=UNFINISHED, steps_done=step, wait_until__gt=Now()
        )
        if waiting.exists():
            job_enqueue(kind_name=kind_name, pk=pk, step=step)
        return None
    job = kind.load(pk)
    outcome = (
        Outcome.cancelled("Cancelled before start.")
        if job.cancel_requested and step == 0
        else kind.step(job, step=step)
    )
    job_act(kind_name=kind_name, pk=pk, outcome=outcome)
    return outcome


@transaction.atomic
def job_act(*, kind_name: str, pk: int, outcome: Outcome) -> None:
    """Carry out a step's outcome: send the next step (now or after a wait) or end the job."""
    kind = kind_named(kind_name)
    job = kind.model._default_manager.select_for_update().get(pk=pk)
    if job.is_finished or outcome.kind == "stale":
        return
    if outcome.kind in ("continue", "wait") and job.cancel_requested:
        outcome = Outcome.cancelled()
    if outcome.kind == "continue":
        job_enqueue(kind_name=kind_name, pk=pk, step=job.steps_done)
    elif outcome.kind == "wait":
        job.wait_until = timezone.now() + timedelta(seconds=outcome.seconds)
        job.save(update_fields=["wait_until"])
        if outcome.message:
            kind.event(job, outcome.message, level="warning")
        job_enqueue(kind_name=kind_name, pk=pk, step=job.steps_done)
    else:
        job_finish(kind_name=kind_name, pk=pk, outcome=outcome)


@transaction.atomic
def job_finish(*, kind_name: str, pk: int, outcome: Outcome) -> bool:
    """End a job once (later calls change nothing); whether this call ended it."""
    kind = kind_named(kind_name)
    error = outcome.message if outcome.kind == "failed" else ""
    updated = (
        kind.model._default_manager.filter(pk=pk)
        .exclude(status__in=FINISHED)
        .update(status=outcome.status, error=error, finished_at=Now(), heartbeat_at=Now())
    )
    if not updated:
        return False
    job = kind.load(pk)
    label = JobStatus(outcome.status).label
    text = f"{label}: {outcome.message}" if outcome.message else label
    kind.event(job, text, level="error" if error else "info")
    kind.finished(job, outcome)
    return True


# A step due later is sent with an ETA at most this far ahead, and sent again from there:
# the broker redelivers a message held longer than its visibility timeout (an hour).
MAX_ETA = timedelta(minutes=15)


def job_enqueue(*, kind_name: str, pk: int, step: int) -> None:
    """Send step `step` to the workers once the current transaction commits, to start when
    the job's wait (if any) is over."""
    from .tasks import job_step_task

    kind = kind_named(kind_name)

    def send() -> None:
        wait_until = kind.model._default_manager.filter(pk=pk).values_list("wait_until", flat=True)
        due = wait_until.first()
        eta = min(due, timezone.now() + MAX_ETA) if due else None
        job_step_task.apply_async(
            (kind_name, pk, step), eta=eta, queue=kind.queue, **kind.task_options
        )

    transaction.on_commit(send)


def job_cancel(*, kind_name: str, pk: int) -> None:
    """Ask a job to stop. A job that no step is working on (queued, or waiting) ends now;
    a running one ends at its next look at the flag."""
    kind = kind_named(kind_name)
    with transaction.atomic():
        job = kind.model._default_manager.select_for_update().get(pk=pk)
        if job.is_finished:
            return
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        kind.event(job, "Cancel requested.")
        if job.status == JobStatus.QUEUED:
            job_finish(
                kind_name=kind_name, pk=pk, outcome=Outcome.cancelled("Cancelled before start.")
            )
        elif job.wait_until and job.wait_until > timezone.now():
            job_finish(
                kind_name=kind_name,
                pk=pk,
                outcome=Outcome.cancelled("Cancelled while waiting."),
            )


def job_requeue_stale(*, kind_name: str) -> list[int]:
    """Re-send the current step of unfinished jobs whose heartbeat stopped (their worker
    died); a job waiting for something is not stale until its wait is long over."""
    kind = kind_named(kind_name)
    cutoff = timezone.now() - timedelta(seconds=kind.stale_after)
    resumed = []
    with transaction.atomic():
        stale = (
            kind.model._default_manager.select_for_update(skip_locked=True)
            .filter(status__in=UNFINISHED, heartbeat_at__lt=cutoff)
            .filter(Q(wait_until__isnull=True) | Q(wait_until__lt=cutoff))
            .only("pk", "steps_done")
        )
        for job in stale:
            kind.model._default_manager.filter(pk=job.pk).update(heartbeat_at=Now())
            kind.event(job, "Worker lost: resuming.", level="warning")
            job_enqueue(kind_name=kind_name, pk=job.pk, step=job.steps_done)
            resumed.append(job.pk)
    return resumed
