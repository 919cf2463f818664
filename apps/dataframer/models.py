"""What the Dataframer-compatible API keeps of its own: seed datasets and their files, the
spec generation job and the YAML of each spec version, the link from a Dataframer run id
to a Seedbed run, and the ZIP of a run's files. Specs, runs and samples themselves are
ordinary Seedbed rows (apps.specs, apps.runs, apps.datasets)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.jobs import Job


class DatasetType(models.TextChoices):
    SINGLE_FILE = "SINGLE_FILE", "One file, one sample per row"
    MULTI_FILE = "MULTI_FILE", "One sample per file"
    MULTI_FOLDER = "MULTI_FOLDER", "One sample per folder"


def _unfinished_index(name: str) -> models.Index:
    """The reaper's scan (apps/core/jobs.py job_requeue_stale)."""
    return models.Index(
        fields=["heartbeat_at"], condition=Q(status__in=["QUEUED", "RUNNING"]), name=name
    )


class SeedDataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    dataset_type = models.CharField(max_length=12, choices=DatasetType.choices)
    # Rows of a SINGLE_FILE dataset; None for the other types.
    sample_count = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="df_seed_dataset_name"),
        ]

    def __str__(self) -> str:
        return self.name


class SeedFile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(SeedDataset, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveIntegerField()
    # "name.ext" at the root, "folder/name.ext" in a MULTI_FOLDER dataset.
    path = models.CharField(max_length=500)
    file_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # At most 1 MB per file (50 MB for the one file of a SINGLE_FILE dataset).
    content = models.BinaryField()

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="df_seed_file_path"),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def folder(self) -> str:
        return self.path.rpartition("/")[0]


class GeneratedSpec(Job):
    """A Dataframer spec: generated from a seed dataset (or objectives) by a job on the
    workers (kind "dataframer_spec"), which then makes an ordinary Seedbed spec.

    Its primary key stays an integer (the job lifecycle sends it to Celery as JSON); the
    API's id is `uid`."""

    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    seed_dataset = models.ForeignKey(
        SeedDataset, null=True, blank=True, on_delete=models.PROTECT, related_name="specs"
    )
    generation_objectives = models.TextField(blank=True)
    # What the request asked for (model, distributions, extrapolation).
    runtime_params = models.JSONField(default=dict)
    # The model that writes the spec, resolved when the spec was asked for.
    provider = models.ForeignKey(
        "core.Provider", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200)
    # The Seedbed spec the job made; its versions are this spec's versions.
    spec = models.OneToOneField(
        "specs.Spec", null=True, blank=True, on_delete=models.SET_NULL, related_name="dataframer"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Set at creation so that a job whose first message is lost counts as stale.
    heartbeat_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="df_spec_name"),
        ]
        indexes = [_unfinished_index("df_spec_unfinished")]

    def __str__(self) -> str:
        return self.name


class SpecYaml(models.Model):
    """The YAML of one version of a generated spec (the Seedbed version of that number
    holds what runs use)."""

    spec = models.ForeignKey(GeneratedSpec, on_delete=models.CASCADE, related_name="yamls")
    number = models.PositiveIntegerField()
    content_yaml = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["spec", "number"]
        constraints = [
            models.UniqueConstraint(fields=["spec", "number"], name="df_spec_yaml_number"),
        ]

    def __str__(self) -> str:
        return f"{self.spec.name} v{self.number}"


class DataframerRun(models.Model):
    """A run started through the Dataframer API: its id there, and what was asked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.OneToOneField("runs.Run", on_delete=models.CASCADE, related_name="dataframer")
    spec = models.ForeignKey(GeneratedSpec, on_delete=models.CASCADE, related_name="runs")
    runtime_params = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.id)


class RunArchive(Job):
    """The ZIP of a finished run's files, written by a job (kind "dataframer_zip")."""

    run = models.OneToOneField(DataframerRun, on_delete=models.CASCADE, related_name="archive")
    file = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    class Meta:
        indexes = [_unfinished_index("df_archive_unfinished")]

    def __str__(self) -> str:
        return f"ZIP of {self.run_id}"
