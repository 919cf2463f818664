from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.fields import OrderedJSONField
from apps.core.jobs import Job


class Dataset(models.Model):
    """Named, versioned samples of one project."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    task_type = models.CharField(max_length=20)
    latest_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class VersionSource(models.TextChoices):
    RUN = "run", "Generation run"
    IMPORT = "import", "File import"
    PROMOTION = "promotion", "Promoted inferences"
    LABELLING = "labelling", "Labelling job"


class DatasetVersion(models.Model):
    """Version n holds every sample added in versions 1..n (no rows are copied)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=12, choices=VersionSource.choices)
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Counted once when the version is closed (its run finished, its import committed), so
    # pages never COUNT(*) a large dataset: version n's size is the sum over 1..n.
    added_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Samples this version added; null while it is open."
    )
    added_labels = models.JSONField(
        null=True, blank=True, help_text="Label counts of the samples this version added."
    )
    # Kept up to date by every review and edit, open version or closed, so that the label
    # chart can leave rejected samples out without reading them.
    rejected_count = models.PositiveIntegerField(
        default=0, help_text="Samples of this version that are rejected now."
    )
    rejected_labels = models.JSONField(
        default=dict, blank=True, help_text="Label counts of those rejected samples."
    )
    # Kept the same way, for the review progress ("312 of 1,000 reviewed").
    accepted_count = models.PositiveIntegerField(
        default=0, help_text="Samples of this version that are accepted now."
    )
    edited_count = models.PositiveIntegerField(
        default=0, help_text="Samples of this version that are edited (and not since reviewed)."
    )
    # jsonb keeps no key order, so a custom dataset's columns come from here: the run's
    # schema, or the fields of an imported file in the order it first had them.
    field_order = OrderedJSONField(
        default=list, blank=True, help_text="Payload fields in the order they were written."
    )

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="datasetversion_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EDITED = "edited", "Edited"


class Sample(models.Model):
    """One sample. It belongs to every version from `version` on."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="samples")
    version = models.PositiveIntegerField(help_text="The version that added this sample.")
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL)
    index = models.PositiveIntegerField(null=True, blank=True, help_text="Position in its run.")
    payload = models.JSONField()
    text = models.TextField()
    text_hash = models.CharField(max_length=32)
    labels = models.JSONField(default=list)
    lineage = models.JSONField(default=dict)
    review_state = models.CharField(
        max_length=12, choices=ReviewState.choices, default=ReviewState.UNREVIEWED
    )
    # Who set the review state last, and when (a review, an edit or an undo).
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # never looked up by user; an index would slow every ingest
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    search = models.GeneratedField(
        expression=models.Func(
            models.Value("english"),
            Coalesce("text", models.Value("")),
            function="to_tsvector",
            output_field=SearchVectorField(),
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Deterministic key: a redelivered chunk cannot insert a sample twice.
            models.UniqueConstraint(
                fields=["run", "index"], condition=Q(run__isnull=False), name="sample_run_index"
            ),
            models.UniqueConstraint(fields=["dataset", "text_hash"], name="sample_text_unique"),
        ]
        indexes = [
            models.Index(fields=["dataset", "-id"], name="sample_dataset_id"),
            # Per-version counts and the upper id bound used to browse an older version.
            models.Index(fields=["dataset", "version", "id"], name="sample_version"),
            models.Index(fields=["dataset", "review_state", "-id"], name="sample_review"),
            models.Index(fields=["run", "-id"], name="sample_run"),
            GinIndex(fields=["labels"], name="sample_labels", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["search"], name="sample_search"),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class SampleBand(models.Model):
    """One LSH band of a sample's MinHash signature (apps/datasets/neardup.py): samples of a
    dataset that share a band value are candidate near-duplicates.

    Written in the transaction that inserts the sample (services.samples_insert), so every
    worker sees the same index, transactionally, with nothing kept in Redis.
    """

    index_only = True  # an index of samples, not an object of its own: not in the admin
    pk = models.CompositePrimaryKey("dataset", "band", "sample")
    # No database constraints: these rows are only written with their sample, whose own
    # constraints already hold, and checking each of the 8 rows per sample would slow ingest.
    # Deleting a dataset deletes its bands in one statement (the primary key's prefix).
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    band = models.BigIntegerField(help_text="64-bit hash of a band number and its MinHash values.")
    sample = models.ForeignKey(
        Sample, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    def __str__(self) -> str:
        return f"band {self.band} of sample {self.sample_id}"


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


class ExportStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


class ExportJob(Job):
    """An export written to a file by a worker, in one step of the job lifecycle
    (apps/core/jobs.py, kind "export"); this row is the truth about its progress."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="exports")
    version = models.PositiveIntegerField()
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    skip_rejected = models.BooleanField(
        default=False, help_text="Samples a reviewer rejected are left out."
    )
    # An export is never cancelled: its statuses stay the four users have always seen.
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    # Set from the start, so that the reaper re-sends a first step whose message was lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    file = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT.")
    rows = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0, help_text="File size in bytes.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["dataset", "-created_at"], name="exportjob_dataset"),
            # The reaper's scan (apps/core/jobs.py job_requeue_stale).
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=["QUEUED", "RUNNING"]),
                name="exportjob_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} of {self.dataset_id} v{self.version} ({self.format})"
