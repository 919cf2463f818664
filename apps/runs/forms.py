from typing import Any

from django import forms

from apps.core.models import Project, Provider
from apps.specs.models import SpecVersion, SpecVersionStatus

from .models import ExplorationMode, SeedShuffling


class RunForm(forms.Form):
    spec_version = forms.ModelChoiceField(queryset=SpecVersion.objects.none(), label="Spec version")
    provider: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=Provider.objects.none(), label="Provider"
    )
    model = forms.CharField(required=False, help_text="Empty: the provider's default model.")
    dataset_name = forms.CharField(
        required=False,
        max_length=120,
        help_text="Empty: the spec's name. An existing dataset gets a new version.",
    )
    num_samples = forms.IntegerField(required=False, help_text="1 to 20,000.")
    multiplier = forms.IntegerField(
        required=False, help_text="Instead of a count: this many variations of every seed."
    )
    exploration_mode = forms.ChoiceField(
        choices=ExplorationMode.choices, initial=ExplorationMode.BALANCED
    )
    batch_size = forms.IntegerField(initial=5, help_text="Samples per call, 1 to 10.")
    num_shots = forms.IntegerField(initial=3, help_text="Seed examples per prompt, 0 to 10.")
    max_examples_in_prompt = forms.IntegerField(initial=10)
    seed_shuffling = forms.ChoiceField(choices=SeedShuffling.choices, initial=SeedShuffling.SAMPLE)
    balance_labels = forms.BooleanField(required=False, initial=True)
    concurrency = forms.IntegerField(initial=8, help_text="Calls in flight, 1 to 64.")
    random_seed = forms.IntegerField(initial=0)

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
        self.fields["provider"].queryset = project.providers.order_by("name")  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for optional in ("num_samples", "multiplier"):
            if data[optional] is None:
                data.pop(optional)
        return data
