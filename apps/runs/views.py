"""Run pages: list, form, detail with a live status fragment."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.inputs import query_int
from apps.core.models import Membership
from apps.core.options import settings_rows
from apps.core.services import require_editor
from apps.core.web import project_view, render_page
from apps.specs import selectors as spec_selectors
from apps.specs.seeds import LABELLED_TASKS

from . import selectors, services
from .compare import run_compare
from .estimate import Estimate, estimate_data
from .forms import SETTING_GROUPS, RunFilters, RunForm
from .models import RunStatus

RUNS_PER_PAGE = 50


@project_view
def run_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    filters = RunFilters(request.GET)
    # Hand-edited parameters that do not validate show the newest runs, with the errors.
    clean = filters.cleaned_data if filters.is_valid() else {}
    status, spec_id = clean.get("status", ""), clean.get("spec")
    spec = spec_selectors.spec_get(membership.project, spec_id) if spec_id else None
    runs, older = selectors.run_page(
        project=membership.project,
        status=status,
        spec_id=spec_id,
        before=clean.get("before"),
        limit=RUNS_PER_PAGE,
    )
    context = {
        "rows": [(run, selectors.run_progress(run)) for run in runs],
        "live": any(not run.is_finished for run in runs),
        "filters": filters,
        "status": status,
        "spec": spec,
        "statuses": RunStatus.choices,
        # The filters that paging keeps.
        "kept": urlencode(
            {k: v for k, v in {"status": status.lower(), "spec": spec_id}.items() if v}
        ),
        "older": older,
        "paged": bool(clean.get("before")),
    }
    return render_page(request, "runs/list.html", context, partial="run-table")


@project_view
def run_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    require_editor(membership)
    initial = {}
    if request.GET.get("spec_version"):
        initial["spec_version"] = request.GET["spec_version"]
    again = query_int(request.GET, "again", minimum=1)
    earlier = None
    if again is not None:
        earlier = selectors.run_get(project=membership.project, run_id=again)
        initial = RunForm.initial_from(earlier)
    form = RunForm(request.POST or None, project=membership.project, initial=initial)
    estimate = None
    if request.method == "POST" and form.is_valid():
        try:
            if "estimate" in request.POST:  # the Estimate button: start nothing
                estimate = _estimate_context(
                    services.run_estimate(membership=membership, **form.service_kwargs())
                )
            else:
                run = services.run_create(
                    membership=membership, user=request.user, **form.service_kwargs()
                )
                messages.success(request, f"Run {run.pk} queued.")
                return redirect("run_detail", run_id=run.pk)
        except ValidationError as exc:
            form.add_error(None, exc)
    context = {"form": form, "earlier": earlier, "estimate": estimate}
    return render(request, "runs/form.html", context)


def _estimate_context(estimate: Estimate) -> dict[str, Any]:
    """The estimate as the API gives it, with each stage's bar (calls, low and high, as a
    share of the busiest stage's high) for the chart."""
    data = estimate_data(estimate)
    top = max((stage["calls"]["high"] for stage in data["stages"]), default=0) or 1
    for stage in data["stages"]:
        stage["bar_low"] = 100 * stage["calls"]["low"] / top
        stage["bar_high"] = 100 * (stage["calls"]["high"] - stage["calls"]["low"]) / top
    return data


def _status_context(membership: Membership, run_id: int) -> dict:
    run = selectors.run_get(project=membership.project, run_id=run_id)
    labels, label_max = selectors.label_bars(run.label_counts)
    return {
        "run": run,
        "progress": selectors.run_progress(
            run, rate=None if run.is_finished else selectors.recent_rate(run)
        ),
        "events": selectors.run_events(run=run),
        "events_shown": selectors.EVENTS_SHOWN,
        "newest": selectors.run_newest_samples(run=run),
        "rejects": selectors.run_rejects(run=run),
        "chart": selectors.run_throughput(run=run),
        "usage": selectors.run_usage(run),
        "labels": labels,
        "label_max": label_max,
        "labelled": run.dataset.task_type in LABELLED_TASKS,
        "finished_states": [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED],
    }


@project_view
def run_detail(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    context = _status_context(membership, run_id)
    context["previous"] = selectors.previous_run(run=context["run"])
    context["settings"] = [
        (SETTING_GROUPS[group], label, value)
        for group, label, value in settings_rows(context["run"].options)
    ]
    return render_page(request, "runs/detail.html", context, partial="live-status")


@project_view
@require_POST
def run_cancel(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    run = selectors.run_get(project=membership.project, run_id=run_id)
    services.run_cancel(membership=membership, run=run)
    if getattr(request, "htmx", False):
        return render(request, "runs/detail.html#live-status", _status_context(membership, run_id))
    return redirect("run_detail", run_id=run_id)


@project_view
def run_compare_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Two runs side by side; without `b`, a choice of the run to compare `a` with (the
    previous run of the same spec first)."""
    first = query_int(request.GET, "a", minimum=1)
    second = query_int(request.GET, "b", minimum=1)
    if first is None:
        return redirect("run_list")
    a = selectors.run_get(project=membership.project, run_id=first)
    context: dict[str, Any] = {"a": a, "choices": selectors.compare_choices(run=a)}
    if second is not None:
        b = selectors.run_get(project=membership.project, run_id=second)
        context.update(b=b, diff=run_compare(a, b))
    return render(request, "runs/compare.html", context)
