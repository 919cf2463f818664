from django.conf import settings
from django.db import models


class ModelAlias(models.Model):
    """A project's own name for a provider's model, e.g. `support-ner` → `vllm/qwen2.5-7b`."""

    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=120)
    provider = models.ForeignKey("core.Provider", on_delete=models.CASCADE, related_name="aliases")
    model = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
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
