"""Writes for Dataframer runs: each is an ordinary Seedbed run of the local engine
(origin Dataframer), its parameters mapped onto the engine's declared settings."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.jobs import FINISHED, UNFINISHED
from apps.core.models import Membership
from apps.core.services import require_editor
from apps.runs.models import RunOrigin
from apps.runs.services import run_cancel, run_create
from apps.specs.models import SpecVersion

from .errors import ApiError, bad_request, conflict
from .files import archive_path
from .models import DataframerRun, GeneratedSpec, RunArchive
from .models_resolve import ResolvedModel, model_choose, model_named
from .presenters import spec_status

# Dataframer's parameter → the local engine's setting of the same meaning.
SETTING_NAMES = {
    "seed_shuffling_level": "seed_shuffling",
    "max_examples_in_prompt": "max_examples_in_prompt",
    "revision_types": "revision_types",
    "filtering_types": "filtering_types",
    "enable_revisions": "enable_revisions",
    "max_revision_cycles": "max_revision_cycles",
    "unified_multifield": "unified_multifield",
    "skip_outline": "skip_outline",
    "tools": "tools",
    "generation_thinking_budget": "generation_thinking_budget",
    "outline_thinking_budget": "outline_thinking_budget",
    "revision_thinking_budget": "revision_thinking_budget",
}
# A Seedbed error's field → the Dataframer parameter the caller sent.
FIELD_NAMES = {
    **{seedbed: dataframer for dataframer, seedbed in SETTING_NAMES.items()},
    "num_samples": "number_of_samples",
    "model": "generation_model",
    "dataset_name": "spec_id",
}


def _version(spec: GeneratedSpec, number: int | None) -> SpecVersion:
    status, error = spec_status(spec)
    if status != "SUCCEEDED" or spec.spec is None:
        detail = f" ({error})" if error else ""
        raise bad_request("spec_id", f"The spec is {status}{detail}; only a SUCCEEDED spec runs.")
    versions = spec.spec.versions.order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        raise bad_request("spec_version", f"The spec has no version {number}.")
    return version


def _models(membership: Membership, params: dict[str, Any]) -> dict[str, ResolvedModel]:
    project = membership.project
    chosen = {
        "generation_model": model_choose(
            project=project, name=params.get("generation_model"), field="generation_model"
        )
    }
    for field in ("outline_model", "revision_model"):
        if params.get(field) is not None:
            chosen[field] = model_named(project=project, name=params[field], field=field)
    return chosen


def _runtime_params(params: dict[str, Any], models: dict[str, ResolvedModel], run: Any) -> dict:
    settings = run.options
    revising = bool(settings.revisions or settings.filters)
    generation = params.get("generation_model") or models["generation_model"].label
    return {
        "number_of_samples": run.num_samples,
        "generation_model": generation,
        "outline_model": params.get("outline_model") or generation,
        "revision_model": (params.get("revision_model") or generation) if revising else None,
        "revision_types": list(settings.revisions),
        "filtering_types": list(settings.filters),
        "max_revision_cycles": settings.max_revision_cycles if revising else None,
        "seed_shuffling_level": settings.seed_shuffling,
        "max_examples_in_prompt": params.get("max_examples_in_prompt"),
        "unified_multifield": settings.unified_multifield,
        "skip_outline": settings.skip_outline,
        "tools": list(settings.tools),
        "generation_thinking_budget": settings.generation_thinking_budget,
        "outline_thinking_budget": settings.outline_thinking_budget,
        "revision_thinking_budget": settings.revision_thinking_budget,
    }


def dataframer_run_create(
    *, membership: Membership, spec: GeneratedSpec, params: dict[str, Any]
) -> DataframerRun:
    """Start a run; 400 naming the Dataframer parameter that is wrong."""
    require_editor(membership)
    version = _version(spec, params.get("spec_version"))
    models = _models(membership, params)
    generation = models["generation_model"]
    options = {
        seedbed: params[dataframer]
        for dataframer, seedbed in SETTING_NAMES.items()
        if params.get(dataframer) is not None
    }
    for field in ("outline_model", "revision_model"):
        if field in models:
            options[field] = models[field].role_model
    with transaction.atomic():
        try:
            run = run_create(
                membership=membership,
                spec_version=version,
                provider=generation.provider,
                model=generation.run_model,
                num_samples=params.get("number_of_samples"),
                user=membership.user,
                origin=RunOrigin.DATAFRAMER,
                **options,
            )
        except ValidationError as exc:
            errors = {
                FIELD_NAMES.get(field, field): messages
                for field, messages in exc.message_dict.items()
            }
            raise ApiError(400, errors) from exc
        return DataframerRun.objects.create(
            run=run, spec=spec, runtime_params=_runtime_params(params, models, run)
        )


def dataframer_run_cancel(*, membership: Membership, dataframer_run: DataframerRun) -> None:
    """Only PENDING or PROCESSING runs can be canceled (409 otherwise)."""
    require_editor(membership)
    if dataframer_run.run.status not in UNFINISHED:
        raise conflict("Only PENDING or PROCESSING runs can be canceled.")
    run_cancel(membership=membership, run=dataframer_run.run)


def dataframer_run_delete(*, membership: Membership, dataframer_run: DataframerRun) -> None:
    """Delete a finished run, its files and its ZIP. Its samples stay in the Seedbed dataset version
    they were written to (a dataset is Seedbed's to keep); a run still going is refused."""
    require_editor(membership)
    if dataframer_run.run.status not in FINISHED:
        raise conflict("The run is still going: cancel it first.")
    archive = RunArchive.objects.filter(run=dataframer_run).exclude(file="").first()
    with transaction.atomic():
        dataframer_run.run.delete()
        if archive is not None:
            path = archive_path(archive)
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
