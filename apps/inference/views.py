"""Inference pages: the history with review and corrections, promotion, and the models.

Labelling pages (upload a file, follow a job) are in views_labelling.py.
"""

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.inputs import MAX_BIGINT, query_int
from apps.core.models import Membership
from apps.core.services import require_editor
from apps.core.web import int_or_none, project_view, render_page
from apps.datasets.rows import highlight_entities

from . import aliases, corrections, promote
from .forms import TASK_NAMES, UNREVIEWED, AliasForm, HistoryFilters
from .models import Inference, ModelAlias, Verdict
from .registry import model_list
from .selectors import inference_get, inference_list
from .services import inference_feedback

HISTORY = "inference/history.html"
NEEDS_ANSWER = "Marking a call incorrect needs the right answer: give it here and save."
PAGE_SIZE = 50


def _page_number(request: HttpRequest) -> int:
    # The page's offset must fit PostgreSQL's bigint.
    return query_int(request.GET, "page", 0, maximum=MAX_BIGINT // PAGE_SIZE) or 0


def model_ids(project: Any) -> list[str]:
    """Suggestions for model fields (provider listings are cached a minute by the registry)."""
    return [entry.id for entry in model_list(project)]


def _history_context(request: HttpRequest, membership: Membership) -> dict[str, Any]:
    filters = HistoryFilters.from_query(request.GET)
    page = _page_number(request)
    rows = inference_list(
        project=membership.project,
        **filters.selector_kwargs(),
        limit=PAGE_SIZE + 1,
        offset=page * PAGE_SIZE,
    )
    return {
        "filters": filters,
        "rows": rows[:PAGE_SIZE],
        "newest_id": rows[0].pk if rows and page == 0 else 0,
        "page": page,
        "has_older": len(rows) > PAGE_SIZE,
        "tasks": TASK_NAMES.items(),
        "verdicts": [*Verdict.choices, (UNREVIEWED, "Unreviewed")],
        "model_ids": model_ids(membership.project),
    }


@project_view
def history(request: HttpRequest, membership: Membership) -> HttpResponse:
    context = _history_context(request, membership)
    call = int_or_none(request.GET.get("call"))
    if call is not None:  # the address a selected call pushes: the page opens with it
        inference = inference_get(project=membership.project, inference_id=call)
        context.update(detail_context(inference, membership), selected_id=inference.pk)
    return render_page(request, HISTORY, context, partial="history-list")


@project_view
def history_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Calls newer than `after`: prepended to the list, with a new poller (204: none)."""
    filters = HistoryFilters.from_query(request.GET)
    after = query_int(request.GET, "after", 0) or 0
    rows = inference_list(
        project=membership.project, **filters.selector_kwargs(), limit=PAGE_SIZE, offset=0
    )
    fresh = [row for row in rows if row.pk > after]
    if not fresh:
        return HttpResponse(status=204)
    context = {"filters": filters, "rows": fresh, "newest_id": fresh[0].pk}
    return render(request, "inference/_new_rows.html", context)


def detail_context(inference: Inference, membership: Membership, **extra: Any) -> dict[str, Any]:
    """What the detail panel shows; every piece of call content is escaped."""
    kind = promote.task_type_of(inference, inference.output) or "other"
    output = inference.output if isinstance(inference.output, dict) else {}
    corrected = inference.corrected_output
    context: dict[str, Any] = {
        "inference": inference,
        "membership": membership,
        "kind": kind,
        "output_json": json.dumps(inference.output, indent=2, ensure_ascii=False),
        "request_json": json.dumps(inference.request, indent=2, ensure_ascii=False),
        "classes": corrections.classes_of(output),
        "corrected_json": json.dumps(corrected, indent=2, ensure_ascii=False)
        if corrected is not None
        else "",
        **extra,
    }
    if kind == "ner":
        context["input_html"] = highlight_entities(inference.input_text, output.get("entities"))
        context["entity_count"] = len(output.get("entities") or [])
        if isinstance(corrected, dict):
            entities = corrected.get("entities")
            context["corrected_html"] = highlight_entities(inference.input_text, entities)
    elif kind == "classification" and isinstance(corrected, dict):
        context["corrected_classes"] = corrections.classes_of(corrected)
    elif corrected is not None:
        context["corrected_text"] = corrections.generated_text(corrected)
    return context


@project_view
def inference_detail(
    request: HttpRequest, membership: Membership, inference_id: int
) -> HttpResponse:
    inference = inference_get(project=membership.project, inference_id=inference_id)
    context = detail_context(inference, membership, standalone=not getattr(request, "htmx", False))
    return render_page(request, "inference/detail.html", context, partial="detail")


def _after_feedback(
    request: HttpRequest, membership: Membership, inference: Inference
) -> HttpResponse:
    """The new detail panel plus the list row, swapped out of band."""
    inference = inference_get(project=membership.project, inference_id=inference.pk)
    if not getattr(request, "htmx", False):
        return redirect("inference_detail", inference_id=inference.pk)
    context = detail_context(inference, membership, row=inference)
    return render(request, "inference/_feedback.html", context)


def _editor(
    request: HttpRequest,
    membership: Membership,
    inference: Inference,
    errors: list[str],
    post: QueryDict | None = None,
) -> HttpResponse:
    context = detail_context(
        inference, membership, editor=corrections.editor_context(inference, post), errors=errors
    )
    response = render_page(request, "inference/detail.html", context, partial="editor")
    if errors and getattr(request, "htmx", False):
        # Buttons and the form target the whole panel (for success); errors go to the editor.
        response["HX-Retarget"] = "#call-editor"
        response["HX-Reswap"] = "innerHTML"
    return response


@project_view
@require_POST
def feedback(request: HttpRequest, membership: Membership, inference_id: int) -> HttpResponse:
    require_editor(membership)
    inference = inference_get(project=membership.project, inference_id=inference_id)
    verdict = request.POST.get("verdict", "")
    if verdict not in Verdict.values:
        return HttpResponse("verdict must be correct or incorrect.", status=400)
    try:
        inference_feedback(
            project=membership.project, inference=inference, verdict=verdict, user=request.user
        )
    except ValidationError as exc:
        if "corrected_output" not in getattr(exc, "message_dict", {}):
            raise
        # `incorrect` needs the right answer (inference_feedback): ask for it in the editor.
        return _editor(request, membership, inference, [NEEDS_ANSWER])
    return _after_feedback(request, membership, inference)


@project_view
def correct(request: HttpRequest, membership: Membership, inference_id: int) -> HttpResponse:
    """The correction editor (GET) and saving a correction as an `incorrect` verdict (POST)."""
    require_editor(membership)
    inference = inference_get(project=membership.project, inference_id=inference_id)
    if request.method != "POST":
        return _editor(request, membership, inference, [])
    try:
        output = corrections.correction_from_post(inference, request.POST)
        inference_feedback(
            project=membership.project,
            inference=inference,
            verdict=Verdict.INCORRECT,
            corrected_output=output,
            user=request.user,
        )
    except ValidationError as exc:
        return _editor(request, membership, inference, corrections.error_lines(exc), request.POST)
    return _after_feedback(request, membership, inference)


@project_view
@require_POST
def promote_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    require_editor(membership)
    filters = HistoryFilters.from_query(request.POST)
    back = f"{reverse('inference_home')}?{filters.params()}"
    try:
        version = promote.inferences_promote(
            membership=membership,
            dataset_name=request.POST.get("dataset_name", ""),
            user=request.user,
            **filters.selector_kwargs(),
        )
    except ValidationError as exc:
        for line in corrections.error_lines(exc):
            messages.error(request, f"Not promoted: {line}")
        return redirect(back)
    messages.success(
        request,
        f"Promoted {version.added_count} call{'s' if version.added_count != 1 else ''} into "
        f"{version.dataset.name} v{version.number}.",
    )
    return redirect(
        f"{reverse('dataset_detail', args=[version.dataset_id])}?version={version.number}"
    )


# --- models and aliases ----------------------------------------------------------------


def _models_page(request: HttpRequest, membership: Membership, form: AliasForm) -> HttpResponse:
    context = {
        "models": model_list(membership.project),
        "aliases": ModelAlias.objects.filter(project=membership.project).select_related("provider"),
        "form": form,
    }
    return render(request, "inference/models.html", context)


@project_view
def models_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = AliasForm(request.POST or None, project=membership.project)
    if request.method == "POST":
        require_editor(membership)
        if form.is_valid():
            try:
                aliases.model_alias_create(membership=membership, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Alias {form.cleaned_data['alias']} added.")
                return redirect("inference_models")
    return _models_page(request, membership, form)


@project_view
@require_POST
def alias_delete(request: HttpRequest, membership: Membership, alias_id: int) -> HttpResponse:
    require_editor(membership)
    alias = get_object_or_404(ModelAlias, pk=alias_id, project=membership.project)
    aliases.model_alias_delete(membership=membership, alias=alias)
    messages.success(request, f"Alias {alias.alias} removed.")
    return redirect("inference_models")
