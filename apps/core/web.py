"""Helpers for the browser pages: the current project and htmx partial rendering."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors
from .inputs import is_id
from .models import Membership

SESSION_PROJECT = "project_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """The session's project if the user is still a member of it, else their first one."""
    project_id = request.session.get(SESSION_PROJECT)
    if project_id is not None:
        membership = (
            Membership.objects.select_related("project")
            .filter(user_id=request.user.pk or 0, project_id=project_id)
            .first()
        )
        if membership is not None:
            return membership
    membership = selectors.membership_default(user=request.user)
    if membership is not None:
        request.session[SESSION_PROJECT] = membership.project_id
    return membership


class MissingPart(Http404):
    """A part (a version, a page) of an object that exists is missing: the 404 page links
    back to the object instead of suggesting another project."""

    def __init__(self, message: str, *, url: str, label: str) -> None:
        super().__init__(message)
        self.url, self.label = url, label


def project_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require login and a project; the view receives `membership` as first argument."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = current_membership(request)
        if membership is None:
            return render(request, "core/no_project.html", status=200)
        request.membership = membership  # type: ignore[attr-defined]
        try:
            return view(request, membership, *args, **kwargs)
        except Http404 as exc:
            # Objects of other projects are 404 too; the page says where to look, never
            # whether the object exists elsewhere.
            context = {
                "message": str(exc) or "Not found.",
                "project": membership.project,
                "back": exc if isinstance(exc, MissingPart) else None,
            }
            return render(request, "core/not_found.html", context, status=404)

    return wrapper


def upload_name(request: HttpRequest, field: str = "file") -> str:
    """The name of the file sent in `field`, or "" (for "choose it again" after an error)."""
    upload = request.FILES.get(field)
    return (upload.name or "the file") if upload is not None else ""


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], partial: str | None = None
) -> HttpResponse:
    """Render the whole page, or only `template#partial` for a non-boosted htmx request."""
    htmx = getattr(request, "htmx", None)
    # Back and Forward after hx-push-url ask for the whole page (a history restore).
    if partial and htmx and not htmx.boosted and not htmx.history_restore_request:
        return render(request, f"{template}#{partial}", context)
    return render(request, template, context)


def int_or_none(value: str | None) -> int | None:
    """A positive id or number from a query string; None when absent or not one."""
    return int(value) if value and is_id(value) else None
