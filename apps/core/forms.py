from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from .models import KIND_CAPABILITIES, Provider, ProviderKind
from .pricing import PRICE_DECIMAL_PLACES, PRICE_MAX, PRICE_MAX_DIGITS, price_messages

# The new-provider form's thinking choice that leaves it to the kind.
THINKING_BY_KIND = ("", "Default for the kind (Anthropic: extended thinking; others: none)")


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "default_model",
            "structured_output",
            "requests_per_minute",
            "tokens_per_minute",
            "max_concurrency",
            "timeout_seconds",
            "thinking",
            "supports_tools",
        ]
        widgets = {"base_url": forms.URLInput(attrs={"placeholder": "https://host/v1"})}
        labels = {"base_url": "Base URL", "supports_tools": "Its models can call tools"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The embedded provider is created by Seedbed; users add the other kinds.
        if self.instance.kind != ProviderKind.EMBEDDED:
            kind = self.fields["kind"]
            kind.choices = [c for c in ProviderKind.choices if c[0] != ProviderKind.EMBEDDED]  # type: ignore[attr-defined]
        fields = self.fields
        if self.instance.pk is None:  # a new provider has no key to keep or remove
            fields["api_key"].help_text = "Stored encrypted; empty for servers without a key."
            del fields["clear_api_key"]
            # What it can do follows its kind unless the user says otherwise.
            thinking = fields["thinking"]
            thinking.choices = [THINKING_BY_KIND, *Provider._meta.get_field("thinking").choices]  # type: ignore[attr-defined, misc]
            thinking.required = False
            thinking.initial = ""
            creatable = [kind for kind in KIND_CAPABILITIES if kind != ProviderKind.EMBEDDED]
            fields["supports_tools"].initial = all(KIND_CAPABILITIES[k][1] for k in creatable)
        fields["thinking"].help_text = (
            "How a thinking budget is sent: Anthropic's thinking.budget_tokens, OpenAI's "
            "reasoning_effort (its reasoning models), or None: the provider cannot think."
        )
        fields[
            "supports_tools"
        ].help_text = "OpenAI tool_calls or Anthropic tool_use, e.g. for the calculator tool."
        for name in ("requests_per_minute", "tokens_per_minute"):
            fields[name].help_text = "Empty: no limit."
            fields[name].validators.append(MinValueValidator(1))
            fields[name].widget.attrs.update(min=1)
        fields["max_concurrency"].help_text = "Calls in flight at once, 1 to 1,024."
        fields["max_concurrency"].validators += [MinValueValidator(1), MaxValueValidator(1024)]
        fields["max_concurrency"].widget.attrs.update(min=1, max=1024)
        fields["timeout_seconds"].help_text = "Per call: more than 0, at most 3,600 seconds."
        fields["timeout_seconds"].widget.attrs.update(min=0.1, max=3600, step="any")

    def clean_timeout_seconds(self) -> float:
        value = self.cleaned_data["timeout_seconds"]
        if value is not None and not 0 < value <= 3600:
            raise forms.ValidationError("Give more than 0 and at most 3,600 seconds.")
        return value  # type: ignore[no-any-return]

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def api_key_value(self) -> str | None:
        """The key to store: None keeps the current one."""
        if self.cleaned_data.get("clear_api_key"):
            return ""
        return self.cleaned_data.get("api_key") or None


class PriceField(forms.DecimalField):
    """Dollars per million tokens: 0 to PRICE_MAX, at most PRICE_DECIMAL_PLACES places."""

    def __init__(self, *, label: str, **kwargs: Any) -> None:
        super().__init__(
            label=label,
            min_value=Decimal(0),
            max_value=Decimal(PRICE_MAX),
            max_digits=PRICE_MAX_DIGITS,
            decimal_places=PRICE_DECIMAL_PLACES,
            error_messages=price_messages(label),
            **kwargs,
        )
        self.widget.attrs.update(inputmode="decimal", placeholder="0.00")

    def run_validators(self, value: Any) -> None:
        # One message per field: 10^30 breaks the maximum and the digits, one reason.
        try:
            super().run_validators(value)
        except ValidationError as exc:
            raise ValidationError(exc.error_list[:1]) from None


class PriceForm(forms.Form):
    """A model's price on the provider page (the service checks the same limits)."""

    model = forms.CharField(
        max_length=200,
        label="Model",
        help_text="As the provider names it; pick one it lists or type it.",
        error_messages={
            "required": "Give the model's name, e.g. gpt-4o-mini.",
            "max_length": "A model name is at most 200 characters.",
            "null_characters_not_allowed": "The model name cannot contain a NUL character.",
        },
    )
    input_per_million = PriceField(label="Input price")
    output_per_million = PriceField(label="Output price")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. 'CI'.")


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
