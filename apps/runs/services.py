"""Writes for runs: create (validated), cancel, events and the end of a run."""

import math
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from apps.core.models import Membership, Provider
from apps.core.services import provider_require_model, require_editor
from apps.datasets.models import VersionSource
from apps.datasets.services import dataset_version_create, dataset_version_finish
from apps.specs.models import SpecVersion
from apps.specs.services import spec_version_require_succeeded
from apps.specs.task_types import content_of, sample_schema

from .models import FINISHED, ExplorationMode, Run, RunEvent, RunStatus, SeedShuffling

MAX_SAMPLES = 20_000
MAX_BATCH = 10
MAX_SHOTS = 10
MAX_CONCURRENCY = 64
MAX_EXAMPLES_IN_PROMPT = 50
MAX_MODEL_CHARS = 200  # Run.model
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1  # Run.random_seed (a bigint)
# A run may use up to this many times the ideal number of calls (num_samples / batch
# size) before it gives up: enough for 2 in 3 samples to be rejected.
CALL_BUDGET_FACTOR = 3


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
    batch_size: int,
    num_shots: int,
    max_examples_in_prompt: int,
    concurrency: int,
    exploration_mode: str,
    seed_shuffling: str,
    dataset_name: str,
    model: str = "",
    random_seed: int = 0,
) -> int:
    """Raise ValidationError naming each bad field and its limit; return num_samples."""
    errors: dict[str, str] = {}
    if len(model) > MAX_MODEL_CHARS:
        errors["model"] = f"model must be at most {MAX_MODEL_CHARS} characters."
    _check_range(errors, "random_seed", random_seed, MIN_SEED, MAX_SEED)
    if num_samples is None and multiplier is None:
        errors["num_samples"] = "Give num_samples (1 to 20,000) or a multiplier of the seeds."
    elif num_samples is not None and multiplier is not None:
        errors["num_samples"] = "Give num_samples or multiplier, not both."
    _check_range(errors, "num_samples", num_samples, 1, MAX_SAMPLES)
    _check_range(errors, "multiplier", multiplier, 1, MAX_SAMPLES)
    _check_range(errors, "batch_size", batch_size, 1, MAX_BATCH)
    _check_range(errors, "num_shots", num_shots, 0, MAX_SHOTS)
    _check_range(
        errors, "max_examples_in_prompt", max_examples_in_prompt, 0, MAX_EXAMPLES_IN_PROMPT
    )
    _check_range(errors, "concurrency", concurrency, 1, MAX_CONCURRENCY)
    if exploration_mode not in ExplorationMode.values:
        errors["exploration_mode"] = (
            f"exploration_mode must be one of {', '.join(ExplorationMode.values)}."
        )
    if seed_shuffling not in SeedShuffling.values:
        errors["seed_shuffling"] = (
            f"seed_shuffling must be one of {', '.join(SeedShuffling.values)}."
        )
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
    assert total is not None
    return total


def run_create(
    *,
    membership: Membership,
    spec_version: SpecVersion,
    provider: Provider,
    model: str = "",
    dataset_name: str = "",
    num_samples: int | None = None,
    multiplier: int | None = None,
    exploration_mode: str = ExplorationMode.BALANCED,
    batch_size: int = 5,
    num_shots: int = 3,
    max_examples_in_prompt: int = 10,
    seed_shuffling: str = SeedShuffling.SAMPLE,
    balance_labels: bool = True,
    concurrency: int = 8,
    random_seed: int = 0,
    user: Any = None,
) -> Run:
    require_editor(membership)
    if spec_version.spec.project_id != membership.project_id:
        raise ValidationError({"spec_version": "No such spec version in this project."})
    if provider.project_id != membership.project_id:
        raise ValidationError({"provider": "No such provider in this project."})
    dataset_name = dataset_name or spec_version.spec.name
    model = provider.own_model_name(model)
    total = run_params_validate(
        spec_version=spec_version,
        num_samples=num_samples,
        multiplier=multiplier,
        batch_size=batch_size,
        num_shots=num_shots,
        max_examples_in_prompt=max_examples_in_prompt,
        concurrency=concurrency,
        exploration_mode=exploration_mode,
        seed_shuffling=seed_shuffling,
        dataset_name=dataset_name,
        model=model,
        random_seed=random_seed,
    )
    if model and model != provider.default_model:
        provider_require_model(provider=provider, model=model)
    model = model or provider.default_model
    if not model:
        raise ValidationError({"model": "Name a model: the provider has no default model."})
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
            exploration_mode=exploration_mode,
            batch_size=batch_size,
            num_shots=num_shots,
            max_examples_in_prompt=max_examples_in_prompt,
            seed_shuffling=seed_shuffling,
            balance_labels=balance_labels,
            concurrency=concurrency,
            random_seed=random_seed,
            call_budget=max(3, CALL_BUDGET_FACTOR * math.ceil(total / batch_size)),
            heartbeat_at=timezone.now(),  # lets the reaper re-send a queue message that got lost
            created_by=user if user is not None and user.is_authenticated else None,
        )
        version.run = run
        version.save(update_fields=["run"])
        queued = f"Queued: {total} samples into {dataset_name} v{version.number}."
        run_event(run=run, message=queued)
        run_enqueue(run=run, chunk=0)
    return run


# A chunk due later is sent with an ETA at most this far ahead, and sent again from there:
# the broker redelivers a message held longer than its visibility timeout (an hour).
MAX_ETA = timedelta(minutes=15)


def run_enqueue(*, run: Run, chunk: int) -> None:
    """Send chunk `chunk` to the workers once the current transaction commits, to start
    when the run's wait for its provider (if any) is over."""
    from .tasks import run_chunk_task

    run_id = run.pk

    def send() -> None:
        wait_until = Run.objects.filter(pk=run_id).values_list("wait_until", flat=True).first()
        eta = min(wait_until, timezone.now() + MAX_ETA) if wait_until else None
        run_chunk_task.apply_async((run_id, chunk), eta=eta)

    transaction.on_commit(send)


def run_cancel(*, membership: Membership, run: Run) -> Run:
    """Ask the run to stop: within a moment no call is made or awaited any more (answers
    still on their way are abandoned); the samples accepted so far are kept."""
    require_editor(membership)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            return run
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
        run_event(run=run, message="Cancel requested.")
        if run.status == RunStatus.QUEUED:
            run_finish(run_id=run.pk, status=RunStatus.CANCELLED, message="Cancelled before start.")
        elif run.wait_until and run.wait_until > timezone.now():  # no chunk is running
            run_finish(
                run_id=run.pk,
                status=RunStatus.CANCELLED,
                message="Cancelled while waiting for the provider.",
            )
    run.refresh_from_db()
    return run


def run_event(*, run: Run, message: str, level: str = "info") -> None:
    RunEvent.objects.create(run=run, message=message, level=level)


@transaction.atomic
def run_finish(*, run_id: int, status: str, error: str = "", message: str = "") -> None:
    """End a run once; later calls change nothing."""
    assert status in FINISHED
    updated = (
        Run.objects.filter(pk=run_id)
        .exclude(status__in=FINISHED)
        .update(status=status, error=error, finished_at=Now(), heartbeat_at=Now())
    )
    if not updated:
        return
    run = (
        Run.objects.select_related("dataset")
        .only("dataset__name", "dataset_version")
        .get(pk=run_id)
    )
    label = RunStatus(status).label
    text = f"{label}: {message or error}" if message or error else label
    run_event(run=run, message=text, level="error" if error else "info")
    number = run.dataset_version
    assert number is not None
    # The version is complete: its counts are stored so browsing never counts rows.
    if not dataset_version_finish(dataset_id=run.dataset_id, number=number):
        Run.objects.filter(pk=run_id).update(dataset_version=None)
        run_event(
            run=run,
            message=f"No sample was kept, so {run.dataset.name} stays at v{number - 1}.",
        )


def run_requeue_stale(*, stale_after_seconds: float) -> list[int]:
    """Re-enqueue unfinished runs whose heartbeat stopped (their worker died)."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    resumed = []
    with transaction.atomic():
        stale = (
            Run.objects.select_for_update(skip_locked=True)
            .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], heartbeat_at__lt=cutoff)
            # A run waiting for its provider is not stale until its wait is long over.
            .filter(Q(wait_until__isnull=True) | Q(wait_until__lt=cutoff))
            .only("pk", "chunks_done")
        )
        for run in stale:
            Run.objects.filter(pk=run.pk).update(heartbeat_at=Now())
            run_event(run=run, level="warning", message="Worker lost: resuming the run.")
            run_enqueue(run=run, chunk=run.chunks_done)
            resumed.append(run.pk)
    return resumed
