"""Export from the dataset page: small files stream, big ones and Parquet become jobs."""

from pathlib import Path
from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.models import Membership
from apps.core.web import project_view

from . import export, selectors, services
from .http import export_response
from .models import ExportFormat, ExportJob, ExportStatus

DETAIL = "datasets/dataset_detail.html"


def _as_page(response: HttpResponseBase) -> HttpResponse:
    # project_view is typed for HttpResponse; streamed and file responses work the same.
    return cast(HttpResponse, response)


def _bad(exc: ValidationError) -> HttpResponse:
    return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")


@project_view
def dataset_export(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    """GET streams a small JSONL/CSV file; POST queues a job and returns its status row."""
    dataset = selectors.dataset_get(membership.project, dataset_id)
    data = request.POST if request.method == "POST" else request.GET
    fmt = data.get("format", ExportFormat.JSONL)
    skip_rejected = data.get("skip_rejected") in ("1", "true", "on")
    try:
        version = int(data.get("version") or 0) or None
    except ValueError:
        return HttpResponse("version must be a number.", status=400, content_type="text/plain")
    try:
        if request.method == "POST":
            job = services.export_job_create(
                membership=membership,
                dataset=dataset,
                version=version,
                fmt=fmt,
                skip_rejected=skip_rejected,
            )
            return render(request, f"{DETAIL}#export-job", {"job": job})
        number = services.export_stream_check(dataset=dataset, version=version, fmt=fmt)
    except ValidationError as exc:
        return _bad(exc)
    return _as_page(export_response(request, dataset, number, fmt, skip_rejected=skip_rejected))


@project_view
@require_GET
def export_job(request: HttpRequest, membership: Membership, job_id: int) -> HttpResponse:
    job = selectors.export_job_get(membership.project, job_id)
    return render(request, f"{DETAIL}#export-job", {"job": job})


def export_file_response(job: ExportJob) -> FileResponse:
    """The job's file as a download; the caller has checked the job's project."""
    if job.status != ExportStatus.SUCCEEDED or not job.file:
        raise Http404("This export has no file (yet).")
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / job.file).resolve()
    if root not in path.parents or not path.is_file():
        raise Http404("The export file is gone.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=export.file_name(
            job.dataset, job.version, job.format, skip_rejected=job.skip_rejected
        ),
        content_type=export.CONTENT_TYPES[job.format],
    )


@project_view
@require_GET
def export_download(request: HttpRequest, membership: Membership, job_id: int) -> HttpResponse:
    return _as_page(export_file_response(selectors.export_job_get(membership.project, job_id)))
