"""One chunk of a local run: claim, generate, commit — the body of `run_chunk_task`.

Idempotence: a chunk is numbered. It only starts if the run's checkpoint
(`chunks_done`) still equals its number, and it commits samples, counters and the new
checkpoint in one transaction under the run's row lock, after checking the number again.
A redelivered or duplicated chunk therefore either redoes lost work or changes nothing.
"""

import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from apps.core.llm import run_sync
from apps.core.services import provider_config
from apps.datasets.models import Sample
from apps.datasets.services import NewSample, samples_insert
from apps.specs.task_types import REASON_DUPLICATE, REASON_LABELS, content_of

from .engine import Candidate, ChunkInput, ChunkOutput, run_chunk
from .models import Run, RunStatus, ThroughputPoint
from .prompts import PromptSettings
from .services import run_event, run_finish

MAX_STORED_REJECTS = 2000
# Early commits come several times a second; the throughput chart needs a point at most
# this often (and one at the end of every chunk).
THROUGHPUT_POINT_SECONDS = 1.0


def chunk_claim(*, run_id: int, chunk: int) -> Run | None:
    """Mark the run RUNNING if chunk `chunk` is the next one and the run is not waiting for
    its provider; None if there is nothing to do now."""
    claimed = (
        Run.objects.filter(
            pk=run_id,
            status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
            chunks_done=chunk,
        )
        .filter(Q(wait_until__isnull=True) | Q(wait_until__lte=Now()))
        .update(
            status=RunStatus.RUNNING,
            heartbeat_at=Now(),
            started_at=Coalesce(F("started_at"), Now()),
            wait_until=None,
        )
    )
    if not claimed:
        return None
    return Run.objects.select_related("spec_version__spec", "provider", "dataset").get(pk=run_id)


def chunk_input(run: Run) -> ChunkInput:
    version = run.spec_version
    content = content_of(version)
    assert run.provider is not None  # checked by chunk_execute
    return ChunkInput(
        provider=replace(
            provider_config(provider=run.provider),
            max_retry_after=settings.RUN_RETRY_AFTER_IN_CALL_MAX,
        ),
        model=run.model,
        prompt=PromptSettings(
            description=version.description,
            instruction=version.instruction,
            requirements=tuple(version.requirements or ()),
            content=content,
            batch_size=run.batch_size,
            num_shots=run.num_shots,
            max_examples_in_prompt=run.max_examples_in_prompt,
            seed_shuffling=run.seed_shuffling,
            exploration_mode=run.exploration_mode,
            random_seed=run.random_seed,
        ),
        num_samples=run.num_samples,
        accepted=run.accepted,
        calls_done=run.calls + run.failed_calls,
        call_budget=run.call_budget,
        concurrency=run.concurrency,
        label_counts=dict(run.label_counts),
        balance_labels=run.balance_labels,
        originals=content.seeds if run.multiplier else (),
        time_budget=settings.RUN_CHUNK_SECONDS,
        heartbeat_every=min(5.0, settings.RUN_STALE_SECONDS / 3),
    )


def chunk_execute(*, run_id: int, chunk: int) -> int | None:
    """Run chunk `chunk` of a run; the number of the chunk to run next, or None."""
    run = chunk_claim(run_id=run_id, chunk=chunk)
    if run is None:
        # Arrived before the time its provider named (a redelivery): send it again then.
        waiting = Run.objects.filter(
            pk=run_id,
            status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
            chunks_done=chunk,
            wait_until__gt=Now(),
        )
        return chunk if waiting.exists() else None
    if chunk == 0:
        run_event(run=run, message=f"Started on {run.model}: {run.num_samples} samples wanted.")
    if run.cancel_requested:
        run_finish(run_id=run.pk, status=RunStatus.CANCELLED, message="Cancelled before start.")
        return None
    if run.provider is None:
        run_finish(run_id=run.pk, status=RunStatus.FAILED, error="The provider was deleted.")
        return None
    position = [chunk]  # each early commit moves the checkpoint on by one
    last_point = [time.monotonic()]

    @sync_to_async
    def should_stop() -> bool:
        return Run.objects.filter(pk=run_id, cancel_requested=True).exists()

    @sync_to_async
    def heartbeat() -> None:
        Run.objects.filter(pk=run_id).update(heartbeat_at=Now())

    @sync_to_async
    def flush(partial: ChunkOutput) -> int | None:
        now = time.monotonic()
        point = now - last_point[0] >= THROUGHPUT_POINT_SECONDS
        kept = chunk_flush(run_id=run_id, chunk=position[0], output=partial, point=point)
        if kept is not None:
            position[0] += 1
            if point:
                last_point[0] = now
        return kept

    job = chunk_input(run)
    output = run_sync(run_chunk, job, should_stop=should_stop, heartbeat=heartbeat, flush=flush)
    return chunk_commit(run_id=run_id, chunk=position[0], output=output)


def existing_hashes(dataset_id: int, hashes: list[str]) -> set[str]:
    """Which of `hashes` the dataset already holds (one array parameter, not thousands)."""
    if not hashes:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT text_hash FROM datasets_sample WHERE dataset_id = %s AND text_hash = ANY(%s)",
            [dataset_id, hashes],
        )
        return {row[0] for row in cursor.fetchall()}


def _lineage(run: Run, candidate: Candidate) -> dict[str, Any]:
    lineage: dict[str, Any] = {
        "run_id": run.pk,
        "spec_version_id": run.spec_version_id,
        "provider": run.provider.name if run.provider else None,
        "model": run.model,
        "call": candidate.call_index,
    }
    if candidate.original is not None:
        lineage["original"] = candidate.original
    return lineage


@transaction.atomic
def chunk_flush(*, run_id: int, chunk: int, output: ChunkOutput, point: bool) -> int | None:
    """Commit what a chunk has so far; how many samples were kept (None if stale).
    `point`: also record a point of the throughput chart."""
    applied = _apply(run_id=run_id, chunk=chunk, output=output, point=point)
    return None if applied is None else applied[1]


@transaction.atomic
def chunk_commit(*, run_id: int, chunk: int, output: ChunkOutput) -> int | None:
    """Commit the rest of a chunk and decide: the next chunk's number, or None."""
    applied = _apply(run_id=run_id, chunk=chunk, output=output)
    if applied is None:
        return None
    run, _ = applied
    return run.chunks_done if _decide(run, output) else None


def _apply(
    *, run_id: int, chunk: int, output: ChunkOutput, point: bool = True
) -> tuple[Run, int] | None:
    """Samples, rejects, counters and checkpoint of `output`, under the run's row lock."""
    run = Run.objects.select_for_update(of=("self",)).select_related("provider").get(pk=run_id)
    if run.chunks_done != chunk or run.is_finished:
        return None  # another delivery of this chunk already committed
    existing = existing_hashes(run.dataset_id, [c.text_hash for c in output.accepted])
    fresh, duplicates = [], []
    for candidate in output.accepted:
        if candidate.text_hash in existing:
            candidate.reason, candidate.detail = REASON_DUPLICATE, "already in the dataset"
            duplicates.append(candidate)
        else:
            fresh.append(candidate)
    fresh = fresh[: max(0, run.num_samples - run.accepted)]
    # Indices continue after the highest one used: a row lost to a concurrent insert of the
    # same text by another run must not leave an index that a later sample collides with.
    top = Sample.objects.filter(run_id=run.pk).aggregate(top=Max("index"))["top"]
    first_index = 0 if top is None else top + 1
    assert run.dataset_version is not None  # only a finished run loses its version
    inserted = samples_insert(
        dataset_id=run.dataset_id,
        version=run.dataset_version,
        run_id=run.pk,
        samples=[
            NewSample(
                payload=c.payload,
                text=c.text,
                text_hash=c.text_hash,
                labels=c.labels,
                lineage=_lineage(run, c),
                index=first_index + i,
            )
            for i, c in enumerate(fresh)
        ],
    )
    kept = [c for c in fresh if c.text_hash in inserted]
    rejects = output.rejected + duplicates
    reasons = Counter(c.reason for c in rejects)
    labels = Counter(label for c in kept for label in c.labels)

    run.calls += output.calls
    run.failed_calls += output.failed_calls
    run.retries += output.retries
    run.input_tokens += output.input_tokens
    run.output_tokens += output.output_tokens
    run.accepted += len(kept)
    run.duplicates += reasons[REASON_DUPLICATE] + len(fresh) - len(kept)
    run.rejected += sum(n for reason, n in reasons.items() if reason != REASON_DUPLICATE)
    run.rejected_by_reason = dict(Counter(run.rejected_by_reason) + reasons)
    run.label_counts = dict(Counter(run.label_counts) + labels)
    run.chunks_done += 1
    run.heartbeat_at = timezone.now()
    if output.wait_seconds:
        run.wait_until = run.heartbeat_at + timedelta(seconds=output.wait_seconds)
    run.save()
    _store_rejects(run, rejects)
    if point:
        ThroughputPoint.objects.create(run=run, accepted_total=run.accepted)
    for message in sorted(set(output.errors))[:5]:
        run_event(run=run, level="error", message=f"Provider call failed: {message}")
    return run, len(kept)


def _store_rejects(run: Run, rejects: list[Candidate]) -> None:
    from .models import RejectedSample

    room = MAX_STORED_REJECTS - RejectedSample.objects.filter(run=run).count()
    RejectedSample.objects.bulk_create(
        RejectedSample(run=run, reason=c.reason, detail=c.detail[:1000], payload=c.payload)
        for c in rejects[: max(0, room)]
    )


def _decide(run: Run, output: ChunkOutput) -> bool:
    """Finish the run or ask for another chunk."""
    if run.accepted >= run.num_samples:
        run_finish(run_id=run.pk, status=RunStatus.SUCCEEDED, message="All samples generated.")
        return False
    if output.fatal_error:
        run_finish(run_id=run.pk, status=RunStatus.FAILED, error=output.fatal_error)
        return False
    if run.cancel_requested or output.stopped:
        run_finish(run_id=run.pk, status=RunStatus.CANCELLED, message="Cancelled by a user.")
        return False
    if output.wait_seconds and run.wait_until is not None:
        provider = run.provider.name if run.provider else "the provider"
        run_event(
            run=run,
            level="warning",
            message=(
                f"{provider} asked to wait {output.wait_seconds:.0f} s (Retry-After): "
                f"waiting until {run.wait_until:%H:%M:%S} UTC, then continuing."
            ),
        )
        return True
    if run.calls + run.failed_calls >= run.call_budget:
        common = Counter(run.rejected_by_reason).most_common(1)
        why = ""
        if not run.calls and output.errors:
            why = f"; every call failed, the last with: {output.errors[-1]}"
        elif common:
            why = f"; most common rejection: {REASON_LABELS.get(common[0][0], common[0][0])}"
        run_finish(
            run_id=run.pk,
            status=RunStatus.FAILED,
            error=(
                f"Call budget of {run.call_budget} calls used up with {run.accepted} of "
                f"{run.num_samples} samples accepted{why}."
            ),
        )
        return False
    return True
