"""Writes for runs: create (validated), cancel, events and the end of a run."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.models import Membership, Provider
from apps.core.options import settings_clean, settings_dump
from apps.core.services import provider_require_model, require_editor
from apps.datasets.models import VersionSource
from apps.datasets.services import dataset_version_create
from apps.specs.models import SpecVersion
from apps.specs.services import spec_version_require_succeeded
from apps.specs.task_types import content_of, sample_schema

from .engines.local_settings import LocalSettings
from .engines.roles import THINKING_SUFFIX, RoleModel, roles_dump, roles_resolve
from .estimate import Estimate, estimate_plan
from .models import Run, RunEvent, RunOrigin

MAX_SAMPLES = 20_000
MAX_MODEL_CHARS = 200  # Run.model
# A run may make up to this many times the ideal number of draft calls (num_samples /
# batch size) before it gives up: enough for 2 in 3 samples to be rejected; twice that
# when a judge's gate may also send drafts back (a weak judge fails many).
CALL_BUDGET_FACTOR = 3
GATED_CALL_BUDGET_FACTOR = 6


def _check_range(
    errors: dict[str, str], field: str, value: int | None, low: int, high: int
) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[field] = f"{field} must be an integer from {low:,} to {high:,} (got {value!r})."


def run_params_validate(
    *,
    spec_version: SpecVersion,
    num_samples: int | None,
    multiplier: int | None,
    options: Mapping[str, Any],
    dataset_name: str,
    model: str = "",
) -> tuple[int, LocalSettings]:
    """Raise ValidationError naming each bad field and its limit; return num_samples and
    the engine's settings."""
    errors: dict[str, str] = {}
    settings = None
    try:
        settings = settings_clean(LocalSettings, options)
    except ValidationError as exc:
        errors.update({field: " ".join(msgs) for field, msgs in exc.message_dict.items()})
    if len(model) > MAX_MODEL_CHARS:
        errors["model"] = f"model must be at most {MAX_MODEL_CHARS} characters."
    if num_samples is None and multiplier is None:
        errors["num_samples"] = "Give num_samples (1 to 20,000) or a multiplier of the seeds."
    elif num_samples is not None and multiplier is not None:
        errors["num_samples"] = "Give num_samples or multiplier, not both."
    _check_range(errors, "num_samples", num_samples, 1, MAX_SAMPLES)
    _check_range(errors, "multiplier", multiplier, 1, MAX_SAMPLES)
    if not dataset_name.strip() or len(dataset_name) > 120:
        errors["dataset_name"] = "dataset_name must be 1 to 120 characters."
    try:
        spec_version_require_succeeded(spec_version)
    except ValidationError as exc:
        errors.update({field: " ".join(msgs) for field, msgs in exc.message_dict.items()})
    total = num_samples
    if multiplier is not None and "multiplier" not in errors:
        seeds = len(spec_version.seeds or [])
        if seeds == 0:
            errors["multiplier"] = "multiplier needs seed examples in the spec version."
        total = multiplier * seeds
        if total > MAX_SAMPLES:
            errors["multiplier"] = (
                f"multiplier × {seeds} seeds = {total} samples, over the limit of 20,000."
            )
    if errors:
        raise ValidationError(errors)
    assert total is not None and settings is not None
    return total, settings


@dataclass(frozen=True)
class RunPlan:
    """A run's parameters, checked: what `run_create` starts and `run_estimate` prices."""

    spec_version: SpecVersion
    provider: Provider
    model: str
    dataset_name: str
    num_samples: int
    multiplier: int | None
    settings: LocalSettings
    roles: dict[str, RoleModel]


def run_plan(
    *,
    membership: Membership,
    spec_version: SpecVersion,
    provider: Provider,
    model: str = "",
    dataset_name: str = "",
    num_samples: int | None = None,
    multiplier: int | None = None,
    **options: Any,
) -> RunPlan:
    """Check a run's parameters (ValidationError naming each bad field and its limit) and
    resolve each role's provider and model; `options` are the local engine's declared
    settings (engines/local_settings.py), each defaulting as declared."""
    require_editor(membership)
    if spec_version.spec.project_id != membership.project_id:
        raise ValidationError({"spec_version": "No such spec version in this project."})
    if provider.project_id != membership.project_id:
        raise ValidationError({"provider": "No such provider in this project."})
    dataset_name = dataset_name or spec_version.spec.name
    model = provider.own_model_name(model)
    total, settings = run_params_validate(
        spec_version=spec_version,
        num_samples=num_samples,
        multiplier=multiplier,
        options=options,
        dataset_name=dataset_name,
        model=model,
    )
    if model and model != provider.default_model:
        provider_require_model(provider=provider, model=model.removesuffix(THINKING_SUFFIX))
    model = model or provider.default_model
    if not model:
        raise ValidationError({"model": "Name a model: the provider has no default model."})
    roles = roles_resolve(
        project=membership.project, provider=provider, model=model, options=settings
    )
    return RunPlan(
        spec_version=spec_version,
        provider=provider,
        model=roles["generation"].model,
        dataset_name=dataset_name,
        num_samples=total,
        multiplier=multiplier,
        settings=settings,
        roles=roles,
    )


def run_estimate(*, membership: Membership, **params: Any) -> Estimate:
    """What a run with these parameters would take (calls, tokens, cost, time), without
    starting it; the same checks as `run_create`."""
    return estimate_plan(run_plan(membership=membership, **params), project=membership.project)


def run_create(
    *,
    membership: Membership,
    user: Any = None,
    origin: str = RunOrigin.SEEDBED,
    **params: Any,
) -> Run:
    """A run of the local engine, from parameters that `run_plan` checks."""
    plan = run_plan(membership=membership, **params)
    spec_version, provider, model = plan.spec_version, plan.provider, plan.model
    dataset_name, total, multiplier = plan.dataset_name, plan.num_samples, plan.multiplier
    settings, roles = plan.settings, plan.roles
    # Only the writes are one transaction: the model check above may ask the provider.
    with transaction.atomic():
        version = dataset_version_create(
            project=membership.project,
            name=dataset_name,
            task_type=spec_version.spec.task_type,
            source=VersionSource.RUN,
            user=user,
            field_order=list(sample_schema(content_of(spec_version)).get("properties", {})),
        )
        if version.dataset.task_type != spec_version.spec.task_type:
            held = version.dataset.task_type
            raise ValidationError(
                {"dataset_name": f"Dataset {dataset_name!r} holds {held} samples."}
            )
        run = Run.objects.create(
            project=membership.project,
            spec_version=spec_version,
            provider=provider,
            model=model,
            dataset=version.dataset,
            dataset_version=version.number,
            num_samples=total,
            multiplier=multiplier,
            origin=origin,
            settings=settings_dump(settings),
            state={"roles": roles_dump(roles)},
            call_budget=call_budget(total, settings),
            heartbeat_at=timezone.now(),  # lets the reaper re-send a queue message that got lost
            created_by=user if user is not None and user.is_authenticated else None,
        )
        version.run = run
        version.save(update_fields=["run"])
        queued = f"Queued: {total} samples into {dataset_name} v{version.number}."
        run_event(run=run, message=queued)
        run_enqueue(run=run, chunk=0)
    return run


def call_budget(num_samples: int, settings: LocalSettings) -> int:
    gated = "conformance" in settings.filters
    factor = GATED_CALL_BUDGET_FACTOR if gated else CALL_BUDGET_FACTOR
    return max(3, factor * math.ceil(num_samples / settings.batch_size))


def run_enqueue(*, run: Run, chunk: int) -> None:
    """Send step `chunk` of the run to the workers once the current transaction commits."""
    jobs.job_enqueue(kind_name="run", pk=run.pk, step=chunk)


def run_cancel(*, membership: Membership, run: Run) -> Run:
    """Ask the run to stop: within a moment no call is made or awaited any more (answers
    still on their way are abandoned); the samples accepted so far are kept."""
    require_editor(membership)
    jobs.job_cancel(kind_name="run", pk=run.pk)
    run.refresh_from_db()
    return run


def run_event(*, run: Run, message: str, level: str = "info") -> None:
    RunEvent.objects.create(run=run, message=message, level=level)
