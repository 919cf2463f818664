"""Shared pieces of the REST API: project scoping and error shapes."""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import selectors
from .inputs import InputError
from .models import ApiKey, Membership


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Service-layer errors become the same 400/403 JSON shapes as DRF's own, and a body
    over the size limit a JSON 413 (Django's own answer is a bare HTML 400)."""
    if isinstance(exc, RequestDataTooBig):
        limit = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) / 1024 / 1024
        too_big = (
            f"The request body is over the server's limit of {limit:.1f} MB "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE); send less per request."
        )
        return Response({"detail": too_big}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, InputError):
        exc = exceptions.ValidationError(detail=exc.as_dict())
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    return drf_exception_handler(exc, context)


def request_membership(request: Request) -> Membership:
    """The caller's membership: the API key's project, or the session's current one."""
    if isinstance(request.auth, ApiKey):
        return selectors.membership_get(user=request.user, project_id=request.auth.project_id)
    project_id = request.session.get("project_id") if hasattr(request, "session") else None
    if project_id is not None:
        return selectors.membership_get(user=request.user, project_id=project_id)
    membership = selectors.membership_default(user=request.user)
    if membership is None:
        raise exceptions.PermissionDenied("You are not a member of any project.")
    return membership


class ProjectAPIView(APIView):
    """Base for API views whose objects belong to the caller's project."""

    @property
    def membership(self) -> Membership:
        if not hasattr(self, "_membership"):
            self._membership = request_membership(self.request)
        return self._membership
