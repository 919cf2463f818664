from typing import Any

from django import forms

from apps.core.models import Project, Provider
from apps.core.options import form_fields, options_of, settings_dump
from apps.specs.models import SpecVersion, SpecVersionStatus

from . import selectors
from .engines.local_settings import LocalSettings
from .models import Run, RunStatus
from .services import MAX_MODEL_CHARS, MAX_SAMPLES

# The folds of the run form, one per group of declared settings.
SETTING_GROUPS = {
    "generation": "Generation settings",
    "models": "Models per role and thinking",
    "quality": "Quality: outline, revisions, filters, tools",
}


def bounded(low: int, high: int, **kwargs: Any) -> forms.IntegerField:
    """An integer field with the service's limits, so a page shows every bad field at
    once (the service checks them again for the API)."""
    return forms.IntegerField(min_value=low, max_value=high, **kwargs)


class RunForm(forms.Form):
    """What to make (spec, provider, dataset, count) and how: the engine's settings,
    derived from their declaration (engines/local_settings.py)."""

    spec_version = forms.ModelChoiceField(queryset=SpecVersion.objects.none(), label="Spec version")
    provider: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=Provider.objects.none(), label="Provider"
    )
    model = forms.CharField(
        required=False, max_length=MAX_MODEL_CHARS, help_text="Empty: the provider's default model."
    )
    dataset_name = forms.CharField(
        required=False,
        max_length=120,
        help_text="Empty: the spec's name. An existing dataset gets a new version.",
    )
    num_samples = bounded(1, MAX_SAMPLES, required=False, help_text=f"1 to {MAX_SAMPLES:,}.")
    multiplier = bounded(
        1,
        MAX_SAMPLES,
        required=False,
        help_text="Instead of a count: this many variations of every seed.",
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(form_fields(LocalSettings))
        versions = (
            SpecVersion.objects.filter(spec__project=project, status=SpecVersionStatus.SUCCEEDED)
            .select_related("spec")
            .order_by("spec__name", "-number")
        )
        self.fields["spec_version"].queryset = versions  # type: ignore[attr-defined]
        self.fields["spec_version"].label_from_instance = (  # type: ignore[attr-defined]
            lambda v: f"{v.spec.name} · v{v.number} · {v.spec.get_task_type_display()}"
        )
        providers = project.providers.order_by("name")
        self.fields["provider"].queryset = providers  # type: ignore[attr-defined]
        if "provider" not in self.initial:
            self.initial["provider"] = selectors.usual_provider_id(project)

    @property
    def setting_groups(self) -> list[tuple[str, list[forms.BoundField], bool]]:
        """(title, fields, has errors) per fold; a fold with an error opens."""
        groups: dict[str, list[str]] = {}
        for opt in options_of(LocalSettings):
            groups.setdefault(opt.group, []).append(opt.name)
        return [
            (
                SETTING_GROUPS[group],
                [self[name] for name in names],
                any(name in self.errors for name in names),
            )
            for group, names in groups.items()
        ]

    @property
    def error_folds(self) -> str:
        """The titles of the folds that hold a bad field ("" if none)."""
        return " and ".join(title for title, _, has_errors in self.setting_groups if has_errors)

    @staticmethod
    def initial_from(run: Run) -> dict[str, Any]:
        """The settings of an earlier run, to start it again (into a new version of the
        same dataset)."""
        initial: dict[str, Any] = settings_dump(run.options)
        initial.update(
            spec_version=run.spec_version_id,
            provider=run.provider_id,
            model=run.model,
            multiplier=run.multiplier,
            dataset_name=run.dataset.name,
            # A multiplier run's count follows from its seeds.
            num_samples=None if run.multiplier else run.num_samples,
        )
        return initial

    def service_kwargs(self) -> dict[str, Any]:
        # An empty field means its default (for a setting) or "not given".
        return {name: value for name, value in self.cleaned_data.items() if value is not None}


MAX_RUNS_PAGE = 500


class RunFilters(forms.Form):
    """The runs list's query parameters, for the page and the API alike."""

    status = forms.CharField(required=False)
    spec = forms.IntegerField(required=False, min_value=1, help_text="A spec id.")
    before = forms.IntegerField(required=False, min_value=1, help_text="A run id: older runs.")
    limit = bounded(1, MAX_RUNS_PAGE, required=False)

    def clean_status(self) -> str:
        status: str = self.cleaned_data["status"].strip().upper()
        if status and status not in RunStatus.values:
            allowed = ", ".join(value.lower() for value in RunStatus.values)
            raise forms.ValidationError(f"status must be one of: {allowed}.")
        return status
