"""Pages: the dataset list with the import form, and a dataset's browser."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.core.models import Membership
from apps.core.services import require_editor
from apps.core.web import MissingPart, int_or_none, project_view, upload_name
from apps.specs.models import TaskType

from . import importing, selectors, selectors_review, services
from .models import Dataset, ExportFormat, ReviewState
from .sample_view import CARDS, TABLE, sample_view

DETAIL = "datasets/dataset_detail.html"


@dataclass(frozen=True)
class Filters:
    version: int | None = None
    label: str = ""
    run: int | None = None
    review_state: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, data: QueryDict, dataset: Dataset) -> "Filters":
        raw = data.get("version", "").strip()
        version = int_or_none(raw)
        if raw and (version is None or version > dataset.latest_version):
            raise MissingPart(
                selectors.version_missing(dataset, raw[:20]),
                url=reverse("dataset_detail", args=[dataset.pk]),
                label=f"Open {dataset.name} v{dataset.latest_version}",
            )
        if version is not None and version >= dataset.latest_version:
            version = None  # the latest version is the whole dataset: no filter needed
        state = data.get("review_state", "")
        return cls(
            version=version,
            label=data.get("label", "").strip()[:200],
            run=int_or_none(data.get("run")),
            review_state=state if state in ReviewState.values else "",
            q=data.get("q", "").strip()[:200],
        )

    def params(self, **extra: Any) -> str:
        values = {**self.__dict__, **extra}
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})

    @property
    def narrowed(self) -> bool:
        return bool(self.label or self.run or self.review_state or self.q)


@project_view
def dataset_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _list_page(request, membership)


def _choose_again(request: HttpRequest) -> str:
    """The uploaded file's name, unless its type is one an import cannot read."""
    name = upload_name(request)
    return "" if importing.type_problem(name) else name


def _list_page(
    request: HttpRequest, membership: Membership, errors: dict[str, list[str]] | None = None
) -> HttpResponse:
    datasets = list(selectors.dataset_list(membership.project))
    sizes = selectors.dataset_sizes(membership.project)
    context = {
        "datasets": [(d, sizes.get(d.pk, 0)) for d in datasets],
        "task_types": TaskType.choices,
        "errors": errors or {},
        "form": request.POST if errors else {},
        "chosen_file": _choose_again(request) if errors else "",
        "max_rows": importing.MAX_IMPORT_ROWS,
        "file_types": importing.FILE_TYPES,
        "accept": importing.ACCEPT,
    }
    return render(request, "datasets/dataset_list.html", context)


@project_view
def dataset_import(request: HttpRequest, membership: Membership) -> HttpResponse:
    if request.method != "POST":
        # A failed import's page is shown at this address; reloading it lands on the form.
        return redirect("dataset_list")
    require_editor(membership)
    upload = request.FILES.get("file")
    if upload is None:
        missing = {"file": [f"Choose a file: {importing.FILE_TYPES}."]}
        return _list_page(request, membership, missing)
    if (upload.size or 0) > importing.MAX_IMPORT_BYTES:
        return _list_page(request, membership, {"file": ["The file is larger than 50 MB."]})
    try:
        result = services.dataset_import(
            membership=membership,
            name=request.POST.get("name", ""),
            task_type=request.POST.get("task_type", ""),
            file_name=upload.name or "upload",
            content=upload.read(),
        )
    except ValidationError as exc:
        return _list_page(request, membership, exc.message_dict)
    messages.success(
        request,
        f"Imported {result.inserted} samples into {result.dataset.name} v{result.version.number}"
        f" ({result.duplicates} duplicate{'s' if result.duplicates != 1 else ''} skipped).",
    )
    return redirect("dataset_detail", dataset_id=result.dataset.pk)


@project_view
def dataset_detail(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(membership.project, dataset_id)
    filters = Filters.from_query(request.GET, dataset)
    cursor = int_or_none(request.GET.get("cursor"))
    samples, next_cursor = selectors.sample_page(
        dataset,
        version=filters.version,
        label=filters.label or None,
        run_id=filters.run,
        review_state=filters.review_state or None,
        q=filters.q or None,
        after_id=cursor,
    )
    view = sample_view(request)
    context: dict[str, Any] = {
        "dataset": dataset,
        "filters": filters,
        "samples": samples,
        "compact": view == TABLE,
        "view_links": [(name, name.title(), filters.params(view=name)) for name in (CARDS, TABLE)],
        "sample_view": view,
        "more_query": filters.params(cursor=next_cursor) if next_cursor else "",
        "version": filters.version or dataset.latest_version,
        "review_states": ReviewState.choices,
        "detail_url": reverse("dataset_detail", args=[dataset.pk]),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        # Only the list changes when a filter changes or "Load more" is clicked.
        return render(request, f"{DETAIL}#{'rows' if cursor else 'results'}", context)

    services.open_versions_close(dataset=dataset)
    versions = selectors.dataset_versions(dataset)
    current = next((v for v in versions if v.number == context["version"]), None)
    labels = selectors.label_distribution(dataset, context["version"])
    kept, rejected = selectors.label_distribution_kept(dataset, context["version"], labels)
    kept_counts = dict(kept)
    context.update(
        progress=selectors_review.review_progress(
            dataset, context["version"], current.total if current else None
        ),
        versions=versions,
        current=current,
        labels=labels,
        # The filter browses rejected samples too, so its counts include them (the bars
        # leave them out): each option says how many of its samples are rejected.
        label_options=[(label, n, n - kept_counts.get(label, 0)) for label, n in labels],
        kept_labels=kept,
        kept_max=max((n for _, n in kept), default=0),
        rejected=rejected,
        label_count=dict(labels).get(filters.label) if filters.label else None,
        runs=sorted({v.run_id for v in versions if v.run_id}, reverse=True),
        streamable=current is not None and current.total <= services.STREAM_LIMIT,
        jobs=selectors.export_job_list(dataset, context["version"]),
        file_types=importing.FILE_TYPES,
        accept=importing.ACCEPT,
        formats=[
            (ExportFormat.JSONL, "JSONL"),
            (ExportFormat.CSV, "CSV"),
            (ExportFormat.PARQUET, "Parquet"),
        ],
    )
    return render(request, DETAIL, context)


@project_view
@require_GET
def dataset_review_progress(
    request: HttpRequest, membership: Membership, dataset_id: int
) -> HttpResponse:
    """The progress line alone: the page asks for it again after each review."""
    dataset = selectors.dataset_get(membership.project, dataset_id)
    version = int_or_none(request.GET.get("version")) or dataset.latest_version
    if not 1 <= version <= dataset.latest_version:
        raise Http404(selectors.version_missing(dataset, version))
    context = {
        "dataset": dataset,
        "version": version,
        "progress": selectors_review.review_progress(dataset, version),
    }
    return render(request, f"{DETAIL}#review-progress", context)
