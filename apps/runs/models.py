from django.conf import settings
from django.db import models
from django.db.models import Q


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"


FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


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


class Run(models.Model):
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

    num_samples = models.PositiveIntegerField()
    multiplier = models.PositiveIntegerField(null=True, blank=True)
    exploration_mode = models.CharField(
        max_length=12, choices=ExplorationMode.choices, default=ExplorationMode.BALANCED
    )
    batch_size = models.PositiveSmallIntegerField(default=5)
    num_shots = models.PositiveSmallIntegerField(default=3)
    max_examples_in_prompt = models.PositiveSmallIntegerField(default=10)
    seed_shuffling = models.CharField(
        max_length=8, choices=SeedShuffling.choices, default=SeedShuffling.SAMPLE
    )
    balance_labels = models.BooleanField(default=True)
    concurrency = models.PositiveSmallIntegerField(default=8)
    random_seed = models.BigIntegerField(default=0)
    call_budget = models.PositiveIntegerField()

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set while the run waits for its provider (a long Retry-After): no chunk runs, and
    # no call is sent, before this time.
    wait_until = models.DateTimeField(null=True, blank=True)

    # Progress counters and the checkpoint, committed together with each chunk's samples.
    chunks_done = models.PositiveIntegerField(default=0)
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

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


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
