"""Spec pages' "Draft a spec from seeds": one seeds file (CSV, JSON or JSONL) becomes a
seed dataset and a spec written from it by the same worker job as Dataframer's
`POST /api/dataframer/specs/`; a status page follows the job to the spec it made."""

from typing import Any

from django import forms
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.models import Membership
from apps.core.services import require_editor
from apps.core.web import project_view, render_page

from .errors import ApiError
from .models import DatasetType, GeneratedSpec
from .presenters import spec_status
from .seed_services import seed_dataset_create
from .spec_services import generated_spec_request
from .uploads import uploads_from_files

# The services name the API's fields; the form's are these.
FORM_FIELD = {
    "name": "name",
    "files": "seeds",
    "dataset_type": "seeds",
    "description": "description",
    "spec_generation_model_name": "model",
}


class DraftSpecForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="The new spec's name.")
    seeds = forms.FileField(
        help_text="One CSV, JSON (an array of objects) or JSONL file of at least 2 rows, "
        "at most 50 MB: the rows the spec is written from and keeps as its seeds."
    )
    description = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the data is for (optional): the model reads it with the seeds.",
    )
    model = forms.CharField(
        required=False,
        max_length=200,
        help_text="A provider/model id or alias that writes the spec; empty: the project's "
        "default model.",
    )


@project_view
def spec_draft(request: HttpRequest, membership: Membership) -> HttpResponse:
    require_editor(membership)
    form = DraftSpecForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            draft = _draft(membership, form.cleaned_data)
        except ApiError as exc:
            _add_errors(form, exc.detail)
        else:
            return redirect("spec_draft_status", uid=draft.uid)
    return render(request, "dataframer/spec_draft.html", {"form": form})


def _draft(membership: Membership, data: dict[str, Any]) -> GeneratedSpec:
    seeds = data["seeds"]
    uploads = uploads_from_files([(seeds.name, seeds.read())], None)
    with transaction.atomic():
        dataset = seed_dataset_create(
            membership=membership,
            name=f"{data['name']} (seeds)",
            dataset_type=DatasetType.SINGLE_FILE,
            uploads=uploads,
            description=data["description"],
        )
        return generated_spec_request(
            membership=membership,
            name=data["name"],
            seed_dataset=dataset,
            description=data["description"],
            # What the data is for: the writer reads it with the seeds.
            generation_objectives=data["description"],
            model_name=data["model"] or None,
            flags={},
        )


def _add_errors(form: forms.Form, detail: Any) -> None:
    if not isinstance(detail, dict):
        form.add_error(None, str(detail))
        return
    for field, messages in detail.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        form.add_error(FORM_FIELD.get(str(field)), text)


@project_view
def spec_draft_status(request: HttpRequest, membership: Membership, uid: str) -> HttpResponse:
    draft = (
        GeneratedSpec.objects.filter(project=membership.project, uid=uid)
        .select_related("spec", "seed_dataset")
        .first()
    )
    if draft is None:
        raise Http404("No such draft.")
    status, error = spec_status(draft)
    context = {"draft": draft, "status": status, "error": error}
    return render_page(request, "dataframer/spec_draft_status.html", context, partial="draft")
