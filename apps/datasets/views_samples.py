"""Sample rows on the dataset page: review with one click and the inline JSON editor."""

import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.core.inputs import InputError, parse_json
from apps.core.models import Membership
from apps.core.services import require_editor
from apps.core.web import project_view

from . import selectors, services
from .models import Sample
from .sample_view import TABLE, sample_view

DETAIL = "datasets/dataset_detail.html"


# Keys in the order people read them (JSONB stores them sorted by length).
KEY_ORDER = {
    key: i
    for i, key in enumerate(
        [
            "text",
            "label",
            "labels",
            "entities",
            "start",
            "end",
            "instruction",
            "input",
            "response",
            "conv_prefix",
            "role",
            "content",
        ]
    )
}


def _readable(value: Any, field_order: Sequence[str] = ()) -> Any:
    """`value` with its keys in reading order: a custom dataset's own field order at the top,
    else the task types' known keys first."""
    if isinstance(value, dict) and field_order:
        return {k: _readable(v) for k, v in selectors.in_field_order(value, field_order)}
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (KEY_ORDER.get(k, len(KEY_ORDER)), k))
        return {k: _readable(value[k]) for k in keys}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def _row(request: HttpRequest, sample: Sample, error: str = "") -> HttpResponse:
    # 200 with an error too: htmx swaps only successful responses.
    context = {
        "sample": sample,
        "dataset": sample.dataset,
        "row_error": error,
        "compact": sample_view(request) == TABLE,
    }
    response = render(request, f"{DETAIL}#sample-row", context)
    if request.method == "POST" and not error:
        # The page's review progress line asks for its new counts.
        response["HX-Trigger"] = "sample-reviewed"
    return response


def _editor(request: HttpRequest, sample: Sample, text: str, error: str = "") -> HttpResponse:
    context: dict[str, Any] = {
        "sample": sample,
        "dataset": sample.dataset,
        "payload_text": text,
        "error": error,
    }
    # 200 even with an error: htmx swaps only successful responses, and the editor with
    # the error and the reader's unsaved text must replace the one they submitted.
    return render(request, f"{DETAIL}#sample-editor", context)


# Lineage keys the trail page shows in their own places; any other is listed as it is.
SHOWN_LINEAGE = {
    "run_id",
    "spec_version_id",
    "provider",
    "model",
    "call",
    "original",
    "trail",
    "flagged",
}


@project_view
@require_GET
def sample_lineage(request: HttpRequest, membership: Membership, sample_id: int) -> HttpResponse:
    """Where a sample came from and every step that made it (outline, draft, tool calls,
    judgements, revisions)."""
    sample = selectors.sample_get(membership.project, sample_id)
    lineage = sample.lineage if isinstance(sample.lineage, dict) else {}
    order = selectors.field_order(sample.dataset)
    context = {
        "sample": sample,
        "dataset": sample.dataset,
        "lineage": lineage,
        "payload_text": json.dumps(_readable(sample.payload, order), indent=2, ensure_ascii=False),
        "spec_version": selectors.sample_spec_version(membership.project, sample),
        "original_text": (
            json.dumps(lineage["original"], indent=2, ensure_ascii=False)
            if lineage.get("original") is not None
            else ""
        ),
        "other_lineage": [
            (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in sorted(lineage.items())
            if key not in SHOWN_LINEAGE
        ],
    }
    return render(request, "datasets/sample_lineage.html", context)


@project_view
@require_GET
def sample_row(request: HttpRequest, membership: Membership, sample_id: int) -> HttpResponse:
    return _row(request, selectors.sample_get(membership.project, sample_id))


@project_view
@require_POST
def sample_review(request: HttpRequest, membership: Membership, sample_id: int) -> HttpResponse:
    sample = selectors.sample_get(membership.project, sample_id)
    try:
        services.sample_review(
            membership=membership, sample=sample, state=request.POST.get("state", "")
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    return _row(request, sample)


@project_view
@require_POST
def sample_labels(request: HttpRequest, membership: Membership, sample_id: int) -> HttpResponse:
    """A label button (`label`), or every label at once (`labels`, a JSON list: an undo)."""
    sample = selectors.sample_get(membership.project, sample_id)
    require_editor(membership)
    labels = None
    try:
        if "labels" in request.POST:
            labels = parse_json(request.POST["labels"], "labels")
            if not isinstance(labels, list):
                raise ValidationError("labels must be a JSON list.")
        sample = services.sample_label(
            membership=membership,
            sample=sample,
            label=request.POST.get("label", "").strip(),
            labels=labels,
        )
    except InputError as exc:
        return _row(request, sample, exc.message)
    except ValidationError as exc:
        return _row(request, sample, " ".join(exc.messages))
    return _row(request, sample)


@project_view
def sample_edit(request: HttpRequest, membership: Membership, sample_id: int) -> HttpResponse:
    sample = selectors.sample_get(membership.project, sample_id)
    require_editor(membership)
    if request.method != "POST":
        order = selectors.field_order(sample.dataset)
        text = json.dumps(_readable(sample.payload, order), indent=2, ensure_ascii=False)
        return _editor(request, sample, text)
    text = request.POST.get("payload", "")
    try:
        payload = parse_json(text, "payload")
    except InputError as exc:
        # A syntax error reads "Not valid JSON: …", where the editor's line and column are.
        syntax = exc.reason != exc.message
        return _editor(
            request, sample, text, exc.reason[0].upper() + exc.reason[1:] if syntax else exc.message
        )
    try:
        sample = services.sample_edit(membership=membership, sample=sample, payload=payload)
    except ValidationError as exc:
        return _editor(request, sample, text, " ".join(exc.messages))
    return _row(request, sample)
