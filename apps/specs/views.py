"""Pages for specs: list, create, edit (a new version), detail with live version status."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.core.models import Membership
from apps.core.web import project_view

from . import display, selectors, services
from .forms import EXAMPLE, SpecForm, edit_form
from .models import Spec


@project_view
def spec_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    specs = selectors.spec_list(membership.project)
    return render(request, "specs/spec_list.html", {"specs": specs})


@project_view
def spec_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    services.require_editor(membership)
    initial = EXAMPLE if request.GET.get("example") else None
    form = SpecForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        task_type = form.cleaned_data["task_type"]
        try:
            spec = services.spec_create(
                membership=membership,
                name=form.cleaned_data["name"],
                task_type=task_type,
                user=membership.user,
                refuse_unusable=True,
                **form.service_fields(task_type),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Spec “{spec.name}” created.")
            return redirect("spec_detail", spec_id=spec.pk)
    return render(request, "specs/spec_form.html", {"form": form, "spec": None})


@project_view
def spec_edit(request: HttpRequest, membership: Membership, spec_id: int) -> HttpResponse:
    spec = selectors.spec_get(membership.project, spec_id)
    services.require_editor(membership)
    latest = selectors.spec_version_latest(spec)
    form = edit_form(request.POST or None, request.FILES or None, latest)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.spec_version_reuse_or_create(
                membership=membership,
                spec=spec,
                user=membership.user,
                refuse_unusable=True,
                **form.service_fields(spec.task_type),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if latest is not None and version.pk == latest.pk:
                messages.info(
                    request, f"Nothing changed: version {version.number} stays the latest."
                )
            else:
                messages.success(
                    request, f"Saved as version {version.number}; earlier versions are unchanged."
                )
            return redirect(_version_url(spec, version.number))
    context = {"form": form, "spec": spec, "latest": latest}
    return render(request, "specs/spec_form.html", context)


def _version_url(spec: Spec, number: int) -> str:
    return f"{reverse('spec_detail', kwargs={'spec_id': spec.pk})}?v={number}"


@project_view
def spec_detail(request: HttpRequest, membership: Membership, spec_id: int) -> HttpResponse:
    spec = selectors.spec_get(membership.project, spec_id)
    versions = selectors.spec_version_table(spec)
    version = None
    if versions:
        try:
            number = int(request.GET.get("v") or versions[0].number)
        except ValueError as exc:
            raise Http404("No such spec version.") from exc
        version = selectors.spec_version_get_by_number(membership.project, spec.pk, number)
    context = {"spec": spec, "versions": versions, "version": version}
    if version is not None:
        counts = selectors.label_counts(version)
        context.update(
            seeds=display.seed_table(version),
            schema_json=display.schema_json(version),
            label_counts=counts,
            max_count=max((c.count for c in counts), default=0),
        )
    return render(request, "specs/spec_detail.html", context)


@project_view
def spec_version_status(
    request: HttpRequest, membership: Membership, spec_id: int, number: int
) -> HttpResponse:
    """The self-replacing status fragment: it stops polling once the check has decided."""
    version = selectors.spec_version_get_by_number(membership.project, spec_id, number)
    context = {"spec": version.spec, "v": version}
    return render(request, "specs/spec_detail.html#version-status", context)
