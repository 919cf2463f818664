"""What the compatible APIs (Pioneer, withpi) share: a request that carries a whole spec
becomes a checked spec version of a spec the API names, reused while the request asks
for the same thing."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.request import Request

from apps.core.models import Membership
from apps.specs import services as spec_services
from apps.specs.models import Spec, SpecVersion, SpecVersionStatus


def request_user(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def compat_spec_version(
    *,
    membership: Membership,
    user: User | None,
    name: str,
    task_type: str,
    content: dict[str, Any],
    errors_by_field: Callable[[list[str]], dict[str, list[str]]],
) -> SpecVersion:
    """The checked version of spec `name` for this content: its latest version when that
    holds exactly this content, else a new one (the spec is created on first use).

    Raises ValidationError with the check's problems, by the request field each is about.
    """
    name = name[:120]
    spec = Spec.objects.filter(project=membership.project, name=name).first()
    if spec is None:
        try:
            spec = spec_services.spec_create(
                membership=membership, name=name, task_type=task_type, user=user, **content
            )
        except ValidationError as exc:
            # Two first requests at once (another web process): the other made the spec.
            spec = Spec.objects.filter(project=membership.project, name=name).first()
            if spec is None or "name" not in getattr(exc, "error_dict", {}):
                raise
    version = spec_services.spec_version_reuse_or_create(
        membership=membership, spec=spec, user=user, **content
    )
    if version.status == SpecVersionStatus.PENDING:
        version = spec_services.spec_version_check(version=version)
    if version.errors:
        raise ValidationError(errors_by_field(version.errors))
    return version
