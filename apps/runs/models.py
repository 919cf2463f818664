from functools import cached_property
from typing import Any

from django.conf import settings as conf
from django.db import models
from django.db.models import Q

from apps.core.jobs import FINISHED, Job
from apps.core.jobs import JobStatus as RunStatus

__all__ = ["FINISHED", "Run", "RunStatus"]


class ExplorationMode(models.TextChoices):
    CONSERVATIVE = "CONSERVATIVE", "Conservative"
    BALANCED = "BALANCED", "Balanced"
    CREATIVE = "CREATIVE", "Creative"
    ADVENTUROUS = "ADVENTUROUS", "Adventurous"


class SeedShuffling(models.TextChoices):
    NONE = "none", "None: seeds in their given order"
    SAMPLE = "sample", "Sample: a new random choice of seeds for every call"
    FIELD = "field", "Field: fields recombined across seeds"
    PROMPT = "prompt", "Prompt: requirements and seeds reordered in every prompt"


class RunOrigin(models.TextChoices):
    """Which API started a run: Seedbed's own (pages and REST API) or a compatible one."""

    SEEDBED = "seedbed", "Seedbed"
    PIONEER = "pioneer", "Pioneer API"
    WITHPI = "withpi", "withpi API"
    COLLINEAR = "collinear", "Collinear API"
    DATAFRAMER = "dataframer", "Dataframer API"


class Run(Job):
    """A generation run. This row is the truth about its progress (never Celery's)."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="runs")
    spec_version = models.ForeignKey(
        "specs.SpecVersion", on_delete=models.PROTECT, related_name="runs"
    )
    provider = models.ForeignKey(
        "core.Provider", null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    model = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="runs")
    # None once the run has ended without keeping a sample: its empty version is dropped.
    dataset_version = models.PositiveIntegerField(null=True, blank=True)
    engine = models.CharField(max_length=20, default="local")
    origin = models.CharField(max_length=20, choices=RunOrigin.choices, default=RunOrigin.SEEDBED)

    num_samples = models.PositiveIntegerField()
    multiplier = models.PositiveIntegerField(null=True, blank=True)
    # The engine's settings as it declares them (engines/local_settings.py), and its own
    # state between steps.
    settings = models.JSONField(default=dict)
    state = models.JSONField(default=dict)
    call_budget = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        conf.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Progress counters, committed together with each step's samples and checkpoint.
    calls = models.PositiveIntegerField(default=0)
    failed_calls = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    rejected_by_reason = models.JSONField(default=dict)
    label_counts = models.JSONField(default=dict)
    # stage → calls, tokens, latency and cost of the calls made for it, rejected work
    # included (see engines/usage.py).
    usage_by_stage = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=["QUEUED", "RUNNING"]),
                name="run_unfinished",
            ),
            # The runs list: newest first by id (its paging cursor), per project.
            models.Index(fields=["project", "-id"], name="run_project_newest"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"

    @cached_property
    def options(self) -> Any:
        """The settings as the run's engine declares them, with the defaults of any added
        since the run was made (read once per instance: a run's settings never change)."""
        from .engines.registry import settings_of

        return settings_of(self)


class RunEvent(models.Model):
    """Append-only log of what happened to a run, shown on its page."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["run", "-id"], name="runevent_run")]

    def __str__(self) -> str:
        return self.message


class RejectedSample(models.Model):
    """A candidate that failed validation; kept with its reason, never in a dataset."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="rejects")
    reason = models.CharField(max_length=30)
    detail = models.TextField(blank=True)
    payload = models.JSONField(null=True)
    # Where it came from and what happened to it (outline, draft, judgements, revisions).
    lineage = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["run", "reason", "-id"], name="reject_run_reason")]

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class ThroughputPoint(models.Model):
    """Accepted samples over time for the run's throughput chart: at most one a second while
    a chunk commits early, and one at the end of every chunk."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="throughput")
    at = models.DateTimeField(auto_now_add=True)
    accepted_total = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["run", "at"], name="throughput_run")]

    def __str__(self) -> str:
        return f"{self.at}: {self.accepted_total}"
