"""The spec form: people type one label or requirement per line and seeds as JSONL."""

import json
from typing import Any, cast

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import QueryDict

from apps.core.inputs import InputError, parse_json

from . import seeds as seed_io
from .models import SpecVersion, TaskType
from .services import MAX_NAME_CHARS

# Above this, seeds are not put back into the edit textarea: posting them again could pass
# Django's request size limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default).
PREFILL_SEEDS_CHARS = 1_000_000

EXAMPLE = {
    "name": "Support ticket intents",
    "task_type": TaskType.CLASSIFICATION,
    "description": "Customer support tickets for a SaaS invoicing product, written by "
    "small-business owners by email or chat.",
    "instruction": "Vary the tone (calm, annoyed, confused) and the length (one line to a "
    "short paragraph).",
    "labels": "billing\ntechnical_issue\naccount_access\nfeature_request",
    "requirements": "Each ticket is written in the first person by a customer.\n"
    "No real names, e-mail addresses or card numbers.",
    "seeds": "\n".join(
        json.dumps({"text": text, "label": label})
        for text, label in [
            ("I was charged twice for my March invoice, please refund one.", "billing"),
            ("The export to PDF button does nothing since this morning.", "technical_issue"),
            ("I can't log in: the reset link in your e-mail has expired.", "account_access"),
        ]
    ),
}


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class SpecForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_CHARS)
    task_type = forms.ChoiceField(choices=TaskType.choices, initial=TaskType.CLASSIFICATION)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The domain or application the data is for.",
    )
    instruction = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Extra instructions for the model (optional).",
    )
    labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "one label per line"}),
        help_text="One per line: entity types for NER, classes for classification.",
    )
    multi_label = forms.BooleanField(
        required=False, label="Multi-label (classification: a text can have several labels)"
    )
    requirements = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "one requirement per line"}),
        help_text="Properties every sample must have, one per line.",
    )
    seeds = forms.CharField(
        required=False,
        strip=False,
        label="Seed examples (JSONL)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "spec-mono"}),
        help_text="One JSON object per line, shaped like a sample of the task type "
        '(LLM inputs: {"input": "…"}).',
    )
    seeds_file = forms.FileField(
        required=False,
        label="…or upload seeds (.jsonl or .csv)",
        help_text=f"Replaces the text above. At most {seed_io.MAX_SEEDS:,} seeds and "
        f"{seed_io.MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
    )
    keep_seeds = forms.BooleanField(required=False, initial=True)
    custom_schema = forms.CharField(
        required=False,
        label="Row schema (custom task type, JSON Schema)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "spec-mono"}),
        help_text="Leave empty to infer it from the seeds.",
    )

    def __init__(
        self, *args: Any, editing: bool = False, kept_seeds: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._uploaded_seeds: list[dict[str, Any]] | None = None
        self.seeds_moved = ""  # the file whose seeds went into the text box
        if editing:
            # Name and task type belong to the spec, not to a version.
            del self.fields["name"]
            del self.fields["task_type"]
        if kept_seeds is None:
            del self.fields["keep_seeds"]
        else:
            self.fields["keep_seeds"].label = (
                f"Keep the {kept_seeds:,} seeds of the latest version (too large to edit "
                "here: upload a file to replace them)"
            )

    def clean_custom_schema(self) -> dict[str, Any] | None:
        text = self.cleaned_data["custom_schema"].strip()
        if not text:
            return None
        try:
            value = parse_json(text, "custom_schema")
        except InputError as exc:
            raise ValidationError(exc.message) from None
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object (a JSON Schema).")
        return value

    def clean_seeds_file(self) -> Any:
        upload = self.cleaned_data.get("seeds_file")
        if upload and upload.size > seed_io.MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; seed files can be at most "
                f"{seed_io.MAX_UPLOAD_BYTES // 1024 // 1024} MB."
            )
        return upload

    def service_fields(self, task_type: str) -> dict[str, Any]:
        """Keyword arguments for the services; ValidationError for unreadable seeds."""
        data = self.cleaned_data
        multi_label = data["multi_label"]
        upload = data.get("seeds_file")
        fields: dict[str, Any] = {}
        if data.get("keep_seeds") and not upload and not data["seeds"].strip():
            pass  # left out: the service copies the latest version's seeds
        elif upload:
            fields["seeds"] = self._uploaded_seeds = seed_io.seeds_from_upload(
                upload.read(seed_io.MAX_UPLOAD_BYTES + 1),
                filename=upload.name or "",
                task_type=task_type,
                multi_label=multi_label,
                field="seeds_file",
            )
        else:
            fields["seeds"] = seed_io.seeds_from_text(
                data["seeds"], fmt=seed_io.JSONL, task_type=task_type, multi_label=multi_label
            )
        return {
            "description": data["description"],
            "instruction": data["instruction"],
            "labels": _lines(data["labels"]),
            "multi_label": multi_label,
            "requirements": _lines(data["requirements"]),
            "custom_schema": data["custom_schema"],
            **fields,
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """Service errors under their fields; ones for fields the form lacks go on top."""
        for name, messages in exc.message_dict.items():
            if name in self.fields:
                self.add_error(name, messages)
            elif name == NON_FIELD_ERRORS:
                self.add_error(None, messages)
            else:
                self.add_error(None, [f"{name}: {m}" for m in messages])
        self._keep_uploaded_seeds()

    def _keep_uploaded_seeds(self) -> None:
        # The page comes back without its file (browsers never refill a file input): seeds
        # read from it go into the text box, so that saving again keeps them.
        if self._uploaded_seeds is None:
            return
        text = seed_io.seeds_to_jsonl(self._uploaded_seeds)
        if len(text) > PREFILL_SEEDS_CHARS:
            return
        data = cast(QueryDict, self.data).copy()
        data["seeds"] = text
        self.data = data
        self.seeds_moved = getattr(self.files.get("seeds_file"), "name", "") or "the file"

    @property
    def chosen_file(self) -> str:
        """The seeds file to choose again: one was sent, the page came back with errors, and
        its seeds are not in the text box."""
        upload = self.files.get("seeds_file") if self.is_bound else None
        if upload is None or not self.errors or self.seeds_moved:
            return ""
        return getattr(upload, "name", "") or "the file"


def edit_form(data: Any, files: Any, latest: SpecVersion | None) -> SpecForm:
    """The form for version n+1, filled with the latest version."""
    if latest is None:
        return SpecForm(data, files, editing=True)
    initial = initial_from_version(latest)
    if len(initial["seeds"]) <= PREFILL_SEEDS_CHARS:
        return SpecForm(data, files, editing=True, initial=initial)
    initial["seeds"] = ""
    kept = len(latest.seeds or [])
    return SpecForm(data, files, editing=True, initial=initial, kept_seeds=kept)


def initial_from_version(version: SpecVersion) -> dict[str, Any]:
    schema = version.custom_schema
    return {
        "description": version.description,
        "instruction": version.instruction,
        "labels": "\n".join(version.labels or []),
        "multi_label": version.multi_label,
        "requirements": "\n".join(version.requirements or []),
        "seeds": seed_io.seeds_to_jsonl(version.seeds or []),
        "custom_schema": json.dumps(schema, indent=2) if schema is not None else "",
    }
