"""Writes for model aliases (the Models page): a project's own name for a provider's model."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.models import Membership, Provider
from apps.core.services import provider_require_model, require_editor

from .models import ModelAlias


def model_alias_create(
    *, membership: Membership, alias: str, provider: Provider, model: str
) -> ModelAlias:
    require_editor(membership)
    alias, model = alias.strip(), model.strip()
    if provider.project_id != membership.project_id:
        raise ValidationError({"provider": "No such provider in this project."})
    if not alias or "/" in alias:
        raise ValidationError({"alias": "An alias is a name without '/'."})
    if not model:
        raise ValidationError({"model": "Name the provider's model."})
    provider_require_model(provider=provider, model=model)
    try:
        with transaction.atomic():
            return ModelAlias.objects.create(
                project=membership.project, alias=alias, provider=provider, model=model
            )
    except IntegrityError as exc:
        raise ValidationError({"alias": f"The alias {alias!r} already exists."}) from exc


def model_alias_delete(*, membership: Membership, alias: ModelAlias) -> None:
    require_editor(membership)
    ModelAlias.objects.filter(pk=alias.pk, project=membership.project).delete()
