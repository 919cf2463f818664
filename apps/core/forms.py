from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from .models import Provider, ProviderKind


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
        ]
        widgets = {"base_url": forms.URLInput(attrs={"placeholder": "https://host/v1"})}
        labels = {"base_url": "Base URL"}

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


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. 'CI'.")


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
