"""What the local engine commits: samples, rejects, counters and the checkpoint.

Idempotence: a step is numbered. It only starts if the run's checkpoint (`steps_done`)
still equals its number (apps/core/jobs.py), and each commit writes samples, counters and
the next checkpoint in one transaction under the run's row lock, after checking the
number again. A redelivered or duplicated step therefore redoes lost work or changes
nothing. Early commits during a step move the checkpoint on by one each.
"""

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.jobs import Outcome
from apps.datasets.minhash import Shingled
from apps.datasets.models import Sample
from apps.datasets.neardup import near_duplicates_find
from apps.datasets.services import NewSample, samples_insert
from apps.runs.models import RejectedSample, Run, ThroughputPoint
from apps.runs.services import run_event
from apps.specs.task_types import REASON_DUPLICATE, REASON_LABELS, REASON_NEAR_DUPLICATE

from .pipeline import Candidate, ChunkOutput
from .usage import token_totals, usage_merge

MAX_STORED_REJECTS = 2000


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
    if candidate.trail:
        lineage["trail"] = candidate.trail
    if candidate.flagged:
        lineage["flagged"] = candidate.flagged
    return lineage


@transaction.atomic
def chunk_flush(*, run_id: int, chunk: int, output: ChunkOutput, point: bool) -> int | None:
    """Commit what a chunk has so far; how many samples were kept (None if stale).
    `point`: also record a point of the throughput chart."""
    applied = _apply(run_id=run_id, chunk=chunk, output=output, point=point)
    return None if applied is None else applied[1]


@transaction.atomic
def chunk_commit(*, run_id: int, chunk: int, output: ChunkOutput) -> Outcome | None:
    """Commit the rest of a step and decide what comes next (None if stale)."""
    applied = _apply(run_id=run_id, chunk=chunk, output=output)
    if applied is None:
        return None
    run, _ = applied
    return _decide(run, output)


def _apply(
    *, run_id: int, chunk: int, output: ChunkOutput, point: bool = True
) -> tuple[Run, int] | None:
    """Samples, rejects, counters and checkpoint of `output`, under the run's row lock."""
    run = Run.objects.select_for_update(of=("self",)).select_related("provider").get(pk=run_id)
    if run.steps_done != chunk or run.is_finished:
        return None  # another delivery of this chunk already committed
    existing = existing_hashes(run.dataset_id, [c.text_hash for c in output.accepted])
    fresh, duplicates = [], []
    for candidate in output.accepted:
        if candidate.text_hash in existing:
            candidate.reason, candidate.detail = REASON_DUPLICATE, "already in the dataset"
            duplicates.append(candidate)
        else:
            fresh.append(candidate)
    # Near-copies of the dataset's samples or of each other, under the dataset's lock
    # until this transaction ends (two runs into one dataset cannot both miss them).
    threshold = run.options.near_duplicate_threshold / 100
    # Shingled once: the check and the insert share the band keys.
    shingled = Shingled([c.text for c in fresh])
    near = near_duplicates_find(dataset_id=run.dataset_id, texts=shingled, threshold=threshold)
    for index, found in near.items():
        fresh[index].reject(REASON_NEAR_DUPLICATE, found.detail)
    duplicates += [fresh[index] for index in near]
    fresh_bands = [shingled.bands[i] for i in range(len(fresh)) if i not in near]
    fresh = [c for i, c in enumerate(fresh) if i not in near]
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
                bands=bands,
            )
            for i, (c, bands) in enumerate(zip(fresh, fresh_bands, strict=False))
        ],
    )
    kept = [c for c in fresh if c.text_hash in inserted]
    rejects = output.rejected + duplicates
    reasons = Counter(c.reason for c in rejects)
    labels = Counter(label for c in kept for label in c.labels)

    run.calls += output.calls
    run.failed_calls += output.failed_calls
    run.retries += output.retries
    counts = output.meter.take()
    spent_in, spent_out = token_totals(counts)
    run.input_tokens += spent_in
    run.output_tokens += spent_out
    run.usage_by_stage = usage_merge(run.usage_by_stage, counts)
    run.accepted += len(kept)
    run.duplicates += reasons[REASON_DUPLICATE] + len(fresh) - len(kept)
    run.rejected += sum(n for reason, n in reasons.items() if reason != REASON_DUPLICATE)
    run.rejected_by_reason = dict(Counter(run.rejected_by_reason) + reasons)
    run.label_counts = dict(Counter(run.label_counts) + labels)
    run.steps_done += 1
    run.heartbeat_at = timezone.now()
    run.save()
    _store_rejects(run, rejects)
    if point:
        ThroughputPoint.objects.create(run=run, accepted_total=run.accepted)
    for message in sorted(set(output.errors))[:5]:
        run_event(run=run, level="error", message=f"Provider call failed: {message}")
    return run, len(kept)


def _store_rejects(run: Run, rejects: list[Candidate]) -> None:
    room = MAX_STORED_REJECTS - RejectedSample.objects.filter(run=run).count()
    RejectedSample.objects.bulk_create(
        RejectedSample(
            run=run,
            reason=c.reason,
            detail=c.detail[:1000],
            payload=c.payload,
            lineage=_lineage(run, c),
        )
        for c in rejects[: max(0, room)]
    )


def _decide(run: Run, output: ChunkOutput) -> Outcome:
    """Finish the run or go on (at once, or after the provider's Retry-After)."""
    if run.accepted >= run.num_samples:
        return Outcome.done("All samples generated.")
    if output.fatal_error:
        return Outcome.failed(output.fatal_error)
    if run.cancel_requested or output.stopped:
        return Outcome.cancelled()
    if output.wait_seconds and output.wait_reason == "limiter":
        return Outcome.wait(
            output.wait_seconds,
            "The rate-limit store (Redis) is unreachable: no call was sent; "
            f"trying again in {output.wait_seconds:.0f} s.",
        )
    if output.wait_seconds:
        provider = run.provider.name if run.provider else "the provider"
        until = timezone.now() + timedelta(seconds=output.wait_seconds)
        return Outcome.wait(
            output.wait_seconds,
            f"{provider} asked to wait {output.wait_seconds:.0f} s (Retry-After): "
            f"waiting until {until:%H:%M:%S} UTC, then continuing.",
        )
    if run.calls + run.failed_calls >= run.call_budget:
        common = Counter(run.rejected_by_reason).most_common(1)
        why = ""
        if not run.calls and output.errors:
            why = f"; every call failed, the last with: {output.errors[-1]}"
        elif common:
            why = f"; most common rejection: {REASON_LABELS.get(common[0][0], common[0][0])}"
        return Outcome.failed(
            f"Call budget of {run.call_budget} calls used up with {run.accepted} of "
            f"{run.num_samples} samples accepted{why}."
        )
    return Outcome.go_on()
