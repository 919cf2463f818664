from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.fields import OrderedJSONField
from apps.core.jobs import Job


class TaskType(models.TextChoices):
    NER = "ner", "Named-entity recognition"
    CLASSIFICATION = "classification", "Classification"
    DECODER = "decoder", "Instruction → response"
    CONVERSATION = "conversation", "Conversation"
    CUSTOM = "custom", "Custom fields"
    # Prompts a user would send to an LLM application (withpi's inputs), not labelled
    # samples: only the text, deduplicated like any sample.
    INPUTS = "inputs", "LLM inputs"

    @classmethod
    def listed(cls) -> str:
        """The values as an API sends them, each with the name the pages show."""
        return ", ".join(
            t.value if t.label.casefold() == t.value else f"{t.value} ({t.label})" for t in cls
        )


class Spec(models.Model):
    """What a team wants generated. Its content lives in immutable SpecVersions."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="specs")
    name = models.CharField(max_length=120)
    task_type = models.CharField(max_length=20, choices=TaskType.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="spec_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class SpecVersionStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


class SpecVersion(models.Model):
    """One immutable state of a spec. Editing a spec creates version n+1."""

    spec = models.ForeignKey(Spec, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(help_text="The domain or application the data is for.")
    instruction = models.TextField(blank=True, help_text="Extra instructions for the model.")
    labels = models.JSONField(default=list, blank=True)
    multi_label = models.BooleanField(default=False)
    requirements = models.JSONField(default=list, blank=True)
    seeds = OrderedJSONField(default=list, blank=True)
    custom_schema = OrderedJSONField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=SpecVersionStatus.choices, default=SpecVersionStatus.PENDING
    )
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["spec", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["spec", "number"], name="specversion_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.spec.name} v{self.number}"


class SpecCheck(Job):
    """The check of one version, as a job (apps/core/jobs.py, kind "spec_check"): the
    reaper re-sends a check whose message was lost, so no version stays PENDING for good."""

    version = models.OneToOneField(SpecVersion, on_delete=models.CASCADE, related_name="check_job")
    # Set at creation so that a check whose first message is lost counts as stale.
    heartbeat_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    class Meta:
        indexes = [
            # The reaper's scan (apps/core/jobs.py job_requeue_stale).
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=["QUEUED", "RUNNING"]),
                name="speccheck_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"Check of {self.version_id}"
