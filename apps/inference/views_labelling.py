"""Labelling pages: upload a file of texts, then follow the job until its dataset is ready."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.core.models import Membership
from apps.core.services import require_editor
from apps.core.web import project_view, render_page, upload_name

from . import labelling, labelling_jobs
from .forms import LabelFileForm
from .models import LabellingJob
from .views import model_ids

JOB = "inference/labelling_job.html"


@project_view
def label_file(request: HttpRequest, membership: Membership) -> HttpResponse:
    require_editor(membership)
    form = LabelFileForm(
        request.POST or None,
        request.FILES or None,
        initial={"model_id": labelling.default_model_id()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = labelling_jobs.labelling_job_create(
                membership=membership,
                task=data["task"],
                labels=data["labels"],
                texts=form.texts,
                lines=form.lines,
                dataset_name=data["dataset_name"],
                model_id=data["model_id"],
                multi_label=data["multi_label"],
                threshold=data["threshold"],
                file_name=data["file"].name or "",
                user=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Labelling {job.total} texts into {job.dataset_name}.")
            return redirect("labelling_job", job_id=job.pk)
    jobs = LabellingJob.objects.filter(project=membership.project).defer("texts", "lines")[:10]
    context = {
        "form": form,
        "chosen_file": upload_name(request) if form.errors else "",
        "jobs": jobs,
        "model_ids": model_ids(membership.project),
        "max_texts": labelling_jobs.MAX_FILE_TEXTS,
        "max_chars": labelling.MAX_TEXT_CHARS,
    }
    return render(request, "inference/label_file.html", context)


def _job(membership: Membership, job_id: int) -> LabellingJob:
    return get_object_or_404(
        LabellingJob.objects.defer("texts", "lines").select_related("dataset"),
        pk=job_id,
        project=membership.project,
    )


@project_view
def labelling_job(request: HttpRequest, membership: Membership, job_id: int) -> HttpResponse:
    job = _job(membership, job_id)
    return render_page(request, JOB, {"job": job, "membership": membership}, partial="progress")


@project_view
@require_POST
def labelling_job_cancel(request: HttpRequest, membership: Membership, job_id: int) -> HttpResponse:
    job = labelling_jobs.labelling_job_cancel(membership=membership, job=_job(membership, job_id))
    if getattr(request, "htmx", False):
        job = _job(membership, job.pk)
        return render(request, f"{JOB}#progress", {"job": job, "membership": membership})
    return redirect("labelling_job", job_id=job.pk)
