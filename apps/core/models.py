from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from encrypted_fields.fields import EncryptedCharField

from .pricing import PRICE_DECIMAL_PLACES, PRICE_MAX, PRICE_MAX_DIGITS


class Project(models.Model):
    """A workspace: every spec, run, dataset, provider and key belongs to one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role != Role.VIEWER


class ApiKey(models.Model):
    """An API key of one user in one project. Only the SHA-256 of the secret is kept."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="Shown to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["key_hash"], condition=Q(revoked_at__isnull=True), name="apikey_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible (vLLM, Ollama, llama.cpp, OpenAI…)"
    ANTHROPIC = "anthropic", "Anthropic"
    EMBEDDED = "embedded", "Embedded (local llama.cpp)"


class StructuredOutput(models.TextChoices):
    """How a provider takes a JSON schema: the dialect differs between servers."""

    JSON_SCHEMA = "json_schema", "OpenAI json_schema (OpenAI, vLLM)"
    JSON_OBJECT_SCHEMA = "json_object_schema", "json_object + schema (llama.cpp)"
    NONE = "none", "No constrained decoding"


class Thinking(models.TextChoices):
    """How a provider takes a thinking budget (apps.core.llm.config.THINKING_MODES)."""

    ANTHROPIC = "anthropic", "Anthropic extended thinking (budget_tokens)"
    REASONING_EFFORT = "reasoning_effort", "OpenAI reasoning_effort"
    NONE = "none", "None"


# What a provider of each kind can do when nobody says otherwise: Anthropic's API takes
# a thinking budget, OpenAI's reasoning_effort only on its reasoning models (set it by
# hand for those), and the embedded 135M model can neither think nor call tools.
KIND_CAPABILITIES: dict[str, tuple[str, bool]] = {
    ProviderKind.ANTHROPIC: (Thinking.ANTHROPIC, True),
    ProviderKind.OPENAI: (Thinking.NONE, True),
    ProviderKind.EMBEDDED: (Thinking.NONE, False),
}


class Provider(models.Model):
    """An LLM endpoint of a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="providers")
    name = models.SlugField(
        max_length=60,
        help_text="Used in model ids as name/model, e.g. embedded/smollm2-135m-instruct.",
    )
    kind = models.CharField(max_length=12, choices=ProviderKind.choices)
    base_url = models.URLField(max_length=500)
    api_key = EncryptedCharField(max_length=500, blank=True, null=True)
    default_model = models.CharField(max_length=200, blank=True)
    structured_output = models.CharField(
        max_length=20, choices=StructuredOutput.choices, default=StructuredOutput.JSON_SCHEMA
    )
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    max_concurrency = models.PositiveIntegerField(default=16)
    timeout_seconds = models.FloatField(default=60.0)
    thinking = models.CharField(
        max_length=20,
        choices=Thinking.choices,
        default=Thinking.NONE,
        help_text="How the provider takes a thinking budget; None: it cannot think.",
    )
    supports_tools = models.BooleanField(
        default=False,
        help_text="Its models can call tools (OpenAI tool_calls, Anthropic tool_use).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="provider_name_unique"),
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1) & Q(max_concurrency__lte=1024),
                name="provider_concurrency_range",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0) & Q(timeout_seconds__lte=3600),
                name="provider_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def own_model_name(self, model_id: str) -> str:
        """The name this provider knows a model by, given as `model` or as the
        `<provider>/model` id that run pages and `/v1/models` show."""
        return model_id.strip().removeprefix(f"{self.name}/")


def _price_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        validators=[MinValueValidator(0), MaxValueValidator(PRICE_MAX)],
        help_text=help_text,
    )


class ModelPrice(models.Model):
    """What one model of a provider costs. Nothing is priced by default: a model without
    a row has an unknown cost, never 0 (apps/core/pricing.py)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="prices")
    model = models.CharField(
        max_length=200, help_text="The name the provider knows the model by, e.g. gpt-4o-mini."
    )
    input_per_million = _price_field("Dollars per million input (prompt) tokens.")
    output_per_million = _price_field(
        "Dollars per million output tokens; thinking tokens are billed as output."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]
        verbose_name = "model price"
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="model_price_unique"),
            models.CheckConstraint(
                condition=Q(input_per_million__gte=0)
                & Q(input_per_million__lte=PRICE_MAX)
                & Q(output_per_million__gte=0)
                & Q(output_per_million__lte=PRICE_MAX),
                name="model_price_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: ${self.input_per_million}/M in, ${self.output_per_million}/M out"


class AllowedPrivateHost(models.Model):
    """A host whose private addresses providers may use, e.g. a team's own vLLM on the LAN.

    Superusers edit these in the admin; `PROVIDER_HOST_ALLOWLIST` adds its entries to
    them (apps/core/allowlist.py). Metadata addresses stay refused whatever is listed.
    """

    host = models.CharField(
        max_length=300,
        unique=True,
        help_text=(
            "host or host:port, e.g. 10.0.0.7:8000 or vllm.lan (every port); "
            "IPv6 as [fd12::7]:8000."
        ),
    )
    note = models.CharField(max_length=300, blank=True, help_text="Whose server this is.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, editable=False, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]
        verbose_name = "allowed private host"

    def __str__(self) -> str:
        return self.host
