"""The local engine: one chunk of a run as a pool of concurrent provider calls.

The engine knows nothing of the database. It receives a `ChunkInput`, keeps up to
`concurrency` calls in flight, passes each answer through the stages (parse → validate →
dedupe) and returns a `ChunkOutput` that the caller commits in one transaction. New
stages (revision cycles, filtering gates, tools) slot into `STAGES` without touching
the call loop.
"""

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.core.llm import LLMClient, LLMError, ProviderAuthError, ProviderConfig, ProviderRefused
from apps.specs.task_types import (
    REASON_DUPLICATE,
    REASON_UNPARSEABLE,
    SpecContent,
    batch_schema,
    check_sample,
    text_hash,
)

from .prompts import EXPLORATION, PromptSettings, build_call, wanted_labels

# Errors after which more calls cannot help.
FATAL_ERRORS = (ProviderAuthError, ProviderRefused)
# A chunk with this many failed calls and none that worked ends the run.
MAX_FAILED_CALLS_WITHOUT_SUCCESS = 4


@dataclass
class Candidate:
    payload: Any
    call_index: int
    original: dict[str, Any] | None = None
    text: str = ""
    text_hash: str = ""
    labels: list[str] = field(default_factory=list)
    reason: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class ChunkInput:
    provider: ProviderConfig
    model: str
    prompt: PromptSettings
    num_samples: int
    accepted: int
    calls_done: int
    call_budget: int
    concurrency: int
    label_counts: dict[str, int]
    balance_labels: bool
    originals: tuple[dict[str, Any], ...] = ()  # multiplier runs expand these seeds
    time_budget: float = 5.0
    heartbeat_every: float = 5.0
    max_tokens: int = 2048


@dataclass
class ChunkOutput:
    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    accepted: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fatal_error: str = ""
    stopped: bool = False


class Stage(Protocol):
    def __call__(self, batch: list[Candidate], chunk: "ChunkState") -> None: ...


@dataclass
class ChunkState:
    """What stages may consult: the spec and what this chunk has accepted so far."""

    content: SpecContent
    seen_hashes: set[str] = field(default_factory=set)
    label_counts: Counter[str] = field(default_factory=Counter)


def validate_stage(batch: list[Candidate], chunk: ChunkState) -> None:
    for candidate in batch:
        if not candidate.ok:
            continue
        checked = check_sample(candidate.payload, chunk.content)
        if not checked.ok:
            candidate.reason, candidate.detail = checked.reason, checked.detail
            continue
        candidate.payload = checked.payload
        candidate.text, candidate.labels = checked.text, checked.labels
        candidate.text_hash = text_hash(checked.text)


def dedupe_stage(batch: list[Candidate], chunk: ChunkState) -> None:
    """Exact duplicates within the chunk; the commit drops those already in the dataset."""
    for candidate in batch:
        if not candidate.ok:
            continue
        if candidate.text_hash in chunk.seen_hashes:
            candidate.reason, candidate.detail = REASON_DUPLICATE, "repeated within the run"
            continue
        chunk.seen_hashes.add(candidate.text_hash)
        chunk.label_counts.update(candidate.labels)


STAGES: list[Stage] = [validate_stage, dedupe_stage]


def parse_answer(content: str, call_index: int, original: dict[str, Any] | None) -> list[Candidate]:
    """Split a model answer into candidates; an unreadable answer is one rejected candidate."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return [
            Candidate(
                payload=content[:2000],
                call_index=call_index,
                reason=REASON_UNPARSEABLE,
                detail=f"not JSON: {exc.msg}",
            )
        ]
    samples = data.get("samples") if isinstance(data, dict) else data
    if not isinstance(samples, list):
        return [
            Candidate(
                payload=data,
                call_index=call_index,
                reason=REASON_UNPARSEABLE,
                detail="no list of samples in the answer",
            )
        ]
    return [Candidate(payload=s, call_index=call_index, original=original) for s in samples]


async def run_chunk(
    job: ChunkInput,
    *,
    should_stop: Callable[[], Awaitable[bool]],
    heartbeat: Callable[[], Awaitable[None]],
) -> ChunkOutput:
    """Make calls until enough samples are in hand, the time budget is spent, the call
    budget runs out, the run is cancelled or the provider fails for good."""
    out = ChunkOutput()
    state = ChunkState(content=job.prompt.content)
    state.label_counts.update(job.label_counts)
    client = LLMClient(job.provider)
    schema = batch_schema(job.prompt.content, job.prompt.batch_size)
    sampling = EXPLORATION[job.prompt.exploration_mode]
    in_flight: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    next_call = job.calls_done
    last_beat = started

    def remaining() -> int:
        return job.num_samples - job.accepted - len(out.accepted)

    def calls_wanted() -> int:
        return math.ceil(max(0, remaining()) / job.prompt.batch_size) - len(in_flight)

    async def one_call(call_index: int) -> None:
        original = job.originals[call_index % len(job.originals)] if job.originals else None
        wanted = (
            wanted_labels(job.prompt.content.labels, state.label_counts, job.num_samples)
            if job.balance_labels and original is None
            else None
        )
        plan = build_call(job.prompt, call_index, wanted_labels=wanted, original=original)
        try:
            result = await client.chat(
                plan.messages,
                model=job.model,
                json_schema=schema,
                schema_name="samples",
                max_tokens=job.max_tokens,
                temperature=sampling["temperature"],
                top_p=sampling["top_p"],
            )
        except LLMError as exc:
            out.failed_calls += 1
            out.retries += max(0, exc.attempts - 1)
            out.errors.append(exc.user_message)
            if isinstance(exc, FATAL_ERRORS) or (
                out.failed_calls >= MAX_FAILED_CALLS_WITHOUT_SUCCESS and out.calls == 0
            ):
                out.fatal_error = exc.user_message
            return
        out.calls += 1
        out.retries += result.attempts - 1
        out.input_tokens += result.usage.input_tokens
        out.output_tokens += result.usage.output_tokens
        batch = parse_answer(result.content, call_index, plan.original)
        for stage in STAGES:
            stage(batch, state)
        for candidate in batch:
            (out.accepted if candidate.ok else out.rejected).append(candidate)

    while True:
        now = time.monotonic()
        if now - last_beat > job.heartbeat_every:
            await heartbeat()
            last_beat = now
        launched = job.calls_done + out.calls + out.failed_calls + len(in_flight)
        can_launch = (
            not out.fatal_error
            and not out.stopped
            and now - started < job.time_budget
            and launched < job.call_budget
            and calls_wanted() > 0
        )
        if can_launch and len(in_flight) < job.concurrency:
            if await should_stop():
                out.stopped = True
                can_launch = False
            else:
                task = asyncio.create_task(one_call(next_call))
                next_call += 1
                in_flight.add(task)
                continue
        if not in_flight:
            break
        done, _ = await asyncio.wait(in_flight, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        in_flight -= done
        for task in done:
            task.result()  # surfaces programming errors instead of hiding them
    await client.aclose()
    return out
