from typing import Any

from django import forms

from apps.core.models import Project, Provider
from apps.specs.models import SpecVersion, SpecVersionStatus

from . import selectors
from .models import ExplorationMode, Run, RunStatus, SeedShuffling
from .services import (
    MAX_BATCH,
    MAX_CONCURRENCY,
    MAX_EXAMPLES_IN_PROMPT,
    MAX_MODEL_CHARS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SHOTS,
    MIN_SEED,
)

# Run settings that "Run again" copies as they were.
SAME_AS_BEFORE = (
    "model",
    "multiplier",
    "exploration_mode",
    "batch_size",
    "num_shots",
    "max_examples_in_prompt",
    "seed_shuffling",
    "balance_labels",
    "concurrency",
    "random_seed",
)


def bounded(low: int, high: int, **kwargs: Any) -> forms.IntegerField:
    """An integer field with the service's limits, so a page shows every bad field at
    once (the service checks them again for the API)."""
    return forms.IntegerField(min_value=low, max_value=high, **kwargs)


class RunForm(forms.Form):
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
    exploration_mode = forms.ChoiceField(
        choices=ExplorationMode.choices, initial=ExplorationMode.BALANCED
    )
    batch_size = bounded(1, MAX_BATCH, initial=5, help_text=f"Samples per call, 1 to {MAX_BATCH}.")
    num_shots = bounded(
        0, MAX_SHOTS, initial=3, help_text=f"Seed examples per prompt, 0 to {MAX_SHOTS}."
    )
    max_examples_in_prompt = bounded(0, MAX_EXAMPLES_IN_PROMPT, initial=10)
    seed_shuffling = forms.ChoiceField(choices=SeedShuffling.choices, initial=SeedShuffling.SAMPLE)
    balance_labels = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Classification: ask for the labels that are short of their share.",
    )
    concurrency = bounded(
        1, MAX_CONCURRENCY, initial=8, help_text=f"Calls in flight, 1 to {MAX_CONCURRENCY}."
    )
    random_seed = bounded(MIN_SEED, MAX_SEED, initial=0)

    # Under the "Generation settings" fold: opened when one of them is wrong.
    SETTINGS = (
        "exploration_mode",
        "seed_shuffling",
        "batch_size",
        "num_shots",
        "max_examples_in_prompt",
        "concurrency",
        "random_seed",
        "balance_labels",
    )

    @property
    def settings_have_errors(self) -> bool:
        return any(name in self.errors for name in self.SETTINGS)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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

    @staticmethod
    def initial_from(run: Run) -> dict[str, Any]:
        """The settings of an earlier run, to start it again (into a new version of the
        same dataset)."""
        initial = {name: getattr(run, name) for name in SAME_AS_BEFORE}
        initial.update(
            spec_version=run.spec_version_id,
            provider=run.provider_id,
            dataset_name=run.dataset.name,
            # A multiplier run's count follows from its seeds.
            num_samples=None if run.multiplier else run.num_samples,
        )
        return initial

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for optional in ("num_samples", "multiplier"):
            if data[optional] is None:
                data.pop(optional)
        return data


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
