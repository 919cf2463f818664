"""A Collinear fan-out becomes an ordinary run: the examples are the seeds of a version
of the custom spec `collinear`, the run multiplies them (each call varies one example,
recorded in every sample's lineage as `original`) into a new version of the dataset
`collinear`, on the Celery workers. The HTTP request only watches it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from apps.core import selectors as core_selectors
from apps.core.models import Membership
from apps.core.services import require_editor
from apps.inference.registry import ModelNotFound, model_by_uuid
from apps.runs import services as run_services
from apps.runs.compat import compat_spec_version
from apps.runs.engines.local_settings import MAX_BATCH
from apps.runs.models import Run, RunOrigin, SeedShuffling
from apps.specs.models import SpecVersion, TaskType

from .errors import CollinearError, Problem
from .inputs import FanOutRequest
from .rows import row_schema

SPEC_NAME = "collinear"
DATASET_NAME = "collinear"
DESCRIPTION = (
    "Rows shaped like the given examples: each new row is a variation of one example, "
    "with the same fields, following the instructions."
)
# Where a spec or run problem points in a Collinear request.
REQUEST_FIELD = {
    "seeds": "examples",
    "custom_schema": "examples",
    "instruction": "prompt",
    "multiplier": "multiplier",
    "provider": "model_id",
    "model": "model_id",
}


def batch_size_for(multiplier: int) -> int:
    """The largest divisor of `multiplier` a call can write: the run's calls take the
    examples in turn, so each example gets `multiplier` rows when every row is kept."""
    return next(size for size in range(min(multiplier, MAX_BATCH), 0, -1) if multiplier % size == 0)


def membership_for_key(*, user_id: int, project_id: int) -> Membership:
    """The membership an API key acts for (403 if its user has left the project)."""
    try:
        user = User.objects.get(pk=user_id, is_active=True)
        return core_selectors.membership_get(user=user, project_id=project_id)
    except (User.DoesNotExist, Http404):
        raise CollinearError(403, message="This API key's user is not in its project.") from None


def _refused_by(exc: ValidationError) -> CollinearError:
    messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    problems = [
        Problem(REQUEST_FIELD.get(str(field)), " ".join(texts), "value_error")
        for field, texts in messages.items()
    ]
    return CollinearError(400, problems)


def _spec_version(membership: Membership, content: dict[str, Any]) -> SpecVersion:
    def checked() -> SpecVersion:
        return compat_spec_version(
            membership=membership,
            user=membership.user,
            name=SPEC_NAME,
            task_type=TaskType.CUSTOM,
            content=content,
            errors_by_field=lambda problems: {"seeds": problems},
        )

    try:
        return checked()
    except ValidationError as exc:
        # Two first requests of a project at once: the other one created the spec.
        if "name" not in getattr(exc, "error_dict", {}):
            raise
        return checked()


def fan_out_start(*, membership: Membership, request: FanOutRequest) -> Run:
    """The run that writes `multiplier` variations of each example; CollinearError when the
    model or the examples cannot make one."""
    try:
        require_editor(membership)
    except PermissionDenied as exc:
        raise CollinearError(403, message=str(exc)) from None
    project = membership.project
    try:
        entry = model_by_uuid(project, request.model_id)
    except ModelNotFound:
        msg = (
            f"No model with UUID {request.model_id} in this project: the UUIDs are listed on "
            "the Models page and in GET /v1/models (metadata.uuid)."
        )
        raise CollinearError(404, [Problem("model_id", msg, "not_found")]) from None
    provider = core_selectors.provider_get(project=project, provider_id=entry.provider_id)
    content: dict[str, Any] = {
        "description": DESCRIPTION,
        "instruction": request.prompt,
        "seeds": request.examples,
        "custom_schema": row_schema(request.examples),
    }
    try:
        with transaction.atomic():
            version = _spec_version(membership, content)
            return run_services.run_create(
                membership=membership,
                spec_version=version,
                provider=provider,
                model=entry.upstream_model,
                dataset_name=DATASET_NAME,
                multiplier=request.multiplier,
                user=membership.user,
                origin=RunOrigin.COLLINEAR,
                batch_size=batch_size_for(request.multiplier),
                seed_shuffling=SeedShuffling.NONE,
            )
    except ValidationError as exc:
        raise _refused_by(exc) from None
