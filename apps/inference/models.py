from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.jobs import FINISHED, Job, JobStatus


class ModelAlias(models.Model):
    """A project's own name for a provider's model, e.g. `support-ner` → `vllm/qwen2.5-7b`."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=120)
    provider = models.ForeignKey("core.Provider", on_delete=models.CASCADE, related_name="aliases")
    model = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "model aliases"
        constraints = [
            models.UniqueConstraint(fields=["project", "alias"], name="alias_unique"),
        ]

    def __str__(self) -> str:
        return self.alias


class Protocol(models.TextChoices):
    NATIVE = "native", "Seedbed /inference"
    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic-compatible"


class Verdict(models.TextChoices):
    CORRECT = "correct", "Correct"
    INCORRECT = "incorrect", "Incorrect"


class Inference(models.Model):
    """One call through the gateway, streamed or not: the history row."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="inferences")
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    model_id = models.CharField(max_length=320, help_text="As the caller named it.")
    provider = models.ForeignKey("core.Provider", null=True, blank=True, on_delete=models.SET_NULL)
    upstream_model = models.CharField(max_length=200, blank=True)
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    task = models.CharField(
        max_length=30, help_text="extract, generate, chat, completion, responses, messages…"
    )
    request = models.JSONField()
    input_text = models.TextField(blank=True)
    output = models.JSONField(null=True, blank=True)
    output_text = models.TextField(blank=True)
    streamed = models.BooleanField(default=False)
    status = models.CharField(max_length=10, default="ok")  # ok | error
    error = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    latency_ms = models.FloatField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    training_job_id = models.CharField(max_length=200, blank=True)
    # The latest feedback, kept here for filtering; every verdict is in Feedback.
    verdict = models.CharField(max_length=10, choices=Verdict.choices, blank=True)
    corrected_output = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "-id"], name="inference_project"),
            models.Index(fields=["project", "model_id", "-id"], name="inference_model"),
            models.Index(fields=["project", "task", "-id"], name="inference_task"),
            models.Index(fields=["project", "training_job_id", "-id"], name="inference_job"),
            models.Index(fields=["project", "verdict", "-id"], name="inference_verdict"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} {self.task} #{self.pk}"


class Feedback(models.Model):
    """Every verdict ever given; the last one is copied onto the Inference."""

    inference = models.ForeignKey(Inference, on_delete=models.CASCADE, related_name="feedback")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    corrected_output = models.JSONField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.verdict} on #{self.inference_id}"


# Labelling jobs follow the one job lifecycle (apps/core/jobs.py); the old names stay.
LabellingStatus = JobStatus
LABELLING_FINISHED = FINISHED


class LabellingJob(Job):
    """Auto-labelling an uploaded file of texts into a new dataset version, in chunks.

    Each step labels the next chunk of texts (`steps_done` is the checkpoint); `done`
    counts the texts labelled and committed. The texts stay in the row (JSONB) and each
    step reads only its slice of them.
    """

    project = models.ForeignKey(
        "core.Project", on_delete=models.CASCADE, related_name="labelling_jobs"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    task = models.CharField(max_length=20)  # ner | classification
    labels = models.JSONField(default=list)
    multi_label = models.BooleanField(default=False)
    model_id = models.CharField(max_length=320)
    threshold = models.FloatField(default=0.5)
    file_name = models.CharField(max_length=255, blank=True)
    texts = models.JSONField(default=list)
    lines = models.JSONField(default=list, help_text="The file line of each text.")
    dataset_name = models.CharField(max_length=120)
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset_version = models.PositiveIntegerField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["project", "-id"], name="labellingjob_project"),
            # The reaper's scan (apps/core/jobs.py job_requeue_stale).
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=["QUEUED", "RUNNING"]),
                name="labellingjob_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"labelling #{self.pk} {self.task} → {self.dataset_name}"

    @property
    def already_present(self) -> int:
        """Texts labelled whose sample the dataset already held (one sample per text)."""
        return max(0, self.done - self.failed - self.added)
