"""The local engine's pipeline: one step of a run as a pool of concurrent lanes.

It knows nothing of the database. It receives a `ChunkInput`, keeps up to `concurrency`
lanes busy, each making one draft after another: (outline →) draft (with tool calls) →
parse → the run's stages (stages.py: validate, echo, structural, the judge's revision
cycles and gate, dedupe), and returns a `ChunkOutput` that the caller commits.
"""

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apps.core.llm import LimiterUnavailable, LLMClient, LLMError, ProviderConfig
from apps.specs.task_types import batch_schema

from .context import FATAL_ERRORS, RoleClient, StageContext, UsageMeter
from .drafting import draft_batch
from .local_settings import LocalSettings
from .planning import TOPICS_SCHEMA, topics_from, topics_messages
from .prompts import EXPLORATION, PromptSettings, build_call, wanted_labels
from .roles import RoleModel
from .stages import Candidate, ChunkState, stages_for

# How long a run waits when the rate-limit store (Redis) cannot be reached.
LIMITER_WAIT_SECONDS = 5.0
# A chunk with this many failed calls and none that worked ends the run.
MAX_FAILED_CALLS_WITHOUT_SUCCESS = 4


@dataclass(frozen=True)
class ChunkInput:
    provider: ProviderConfig
    model: str
    prompt: PromptSettings
    # Each role's model and its provider's config (generation, outline, revision).
    roles: dict[str, tuple[RoleModel, ProviderConfig]]
    options: LocalSettings
    num_samples: int
    accepted: int
    calls_done: int
    call_budget: int
    concurrency: int
    label_counts: dict[str, int]
    balance_labels: bool
    originals: tuple[dict[str, Any], ...] = ()  # multiplier runs expand these seeds
    time_budget: float = 5.0
    # After this long, work still in flight (a draft's judge and revision chain on a slow
    # provider) is abandoned and the step commits: steps stay bounded whatever the chain.
    step_max: float = 600.0
    heartbeat_every: float = 5.0
    flush_every: float = 0.25
    max_tokens: int = 2048


@dataclass
class ChunkOutput:
    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    # Every model call by stage, provider and model (drafts, outlines, judge, revisions).
    meter: UsageMeter = field(default_factory=UsageMeter)
    accepted: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fatal_error: str = ""
    stopped: bool = False
    out_of_time: bool = False  # the step hit `step_max`: what was in flight is dropped
    stale: bool = False  # another delivery of this chunk committed first
    # The provider asked to wait longer than a call may sleep (Retry-After): the run
    # waits this many seconds between chunks instead of holding a worker.
    wait_seconds: float = 0.0
    wait_reason: str = ""  # "retry_after" (the provider's) or "limiter" (Redis unreachable)

    def has_results(self) -> bool:
        return bool(self.calls or self.failed_calls or self.accepted or self.rejected)

    def take(self) -> "ChunkOutput":
        """Move the results gathered so far into a new output (for an early commit)."""
        taken = ChunkOutput(
            calls=self.calls,
            failed_calls=self.failed_calls,
            retries=self.retries,
            meter=UsageMeter.holding(self.meter.take()),
            accepted=self.accepted,
            rejected=self.rejected,
            errors=self.errors,
        )
        self.calls = self.failed_calls = self.retries = 0
        self.accepted, self.rejected, self.errors = [], [], []
        return taken


def context_for(job: ChunkInput, *, state: Any, meter: UsageMeter) -> StageContext:
    clients: dict[str, LLMClient] = {}  # one per provider: its roles share its limits
    roles = {
        role: RoleClient(chosen, config, clients.setdefault(config.key, LLMClient(config)))
        for role, (chosen, config) in job.roles.items()
    }
    return StageContext(
        roles=roles,
        prompt=job.prompt,
        options=job.options,
        state=state,
        meter=meter,
        run_seed=job.prompt.random_seed,
        max_tokens=job.max_tokens,
    )


async def plan_topics(job: ChunkInput) -> tuple[tuple[str, ...], UsageMeter]:
    """The run's topic plan from the outline model (planning.py), and what it cost."""
    meter = UsageMeter()
    ctx = context_for(job, state=None, meter=meter)
    prompt = job.prompt
    messages = topics_messages(prompt.description, prompt.instruction, prompt.content.seeds)
    try:
        result = await ctx.call(
            "plan", "outline", messages, json_schema=TOPICS_SCHEMA, schema_name="topics"
        )
    except LLMError:  # the drafts go on without topics (and meet any fatal error)
        return (), meter
    return topics_from(result.content), meter


Flush = Callable[[ChunkOutput], Awaitable[int | None]]

# How often the supervisor wakes up to look for a cancel request, a due heartbeat or flush.
TICK = 0.25


async def run_chunk(
    job: ChunkInput,
    *,
    should_stop: Callable[[], Awaitable[bool]],
    heartbeat: Callable[[], Awaitable[None]],
    flush: Flush | None = None,
) -> ChunkOutput:
    """Make calls until enough samples are in hand, the time budget is spent, the call
    budget runs out, the run is cancelled or the provider fails for good.

    `concurrency` lanes each make one call after another, so a finished call is followed
    by the next at once; a lane with nothing to do waits for the calls in flight, whose
    rejects may call for more. A supervisor looks for a cancel request every `TICK` seconds
    (a cancel abandons the calls in flight) and sends the results so far to `flush` (an
    early commit, which returns how many samples it kept, or None if the chunk is stale)
    every `flush_every` seconds while calls go on and, once the last calls are in flight,
    whenever one of them ends and no flush is running: samples appear as they come and the
    final commit stays small.
    """
    out = ChunkOutput()
    state = ChunkState.for_prompt(job.prompt)
    state.label_counts.update(job.label_counts)
    ctx = context_for(job, state=state, meter=out.meter)
    stages = stages_for(job.options)
    schemas: dict[frozenset[str], dict[str, Any]] = {}

    def schema_for(wanted: list[str]) -> dict[str, Any]:
        key = frozenset(wanted)
        if key not in schemas:
            schemas[key] = batch_schema(job.prompt.content, job.prompt.batch_size, only_labels=key)
        return schemas[key]

    sampling = EXPLORATION[job.prompt.exploration_mode]
    started = time.monotonic()
    next_call = job.calls_done
    in_flight = committed = pending = 0
    flushing: asyncio.Task[None] | None = None
    last_flush = started
    all_launched = asyncio.Event()  # set when a lane found no call to make
    call_ended = asyncio.Event()

    def remaining() -> int:
        return job.num_samples - job.accepted - committed - pending - len(out.accepted)

    def next_call_index() -> int | None:
        """The index of the next call to make, or None once no more calls are wanted."""
        nonlocal next_call
        wanted = math.ceil(max(0, remaining()) / job.prompt.batch_size) - in_flight
        if (
            out.fatal_error
            or out.stopped
            or out.out_of_time
            or out.stale
            or out.wait_seconds
            or time.monotonic() - started >= job.time_budget
            or next_call >= job.call_budget
            or wanted <= 0
        ):
            all_launched.set()
            return None
        next_call += 1
        return next_call - 1

    async def flush_now() -> None:
        nonlocal committed, pending
        assert flush is not None
        taken = out.take()
        pending = len(taken.accepted)
        kept = await flush(taken)
        pending = 0
        if kept is None:
            out.stale = True
        else:
            committed += kept

    async def one_call(call_index: int) -> None:
        original = job.originals[call_index % len(job.originals)] if job.originals else None
        wanted = (
            wanted_labels(
                job.prompt.content.labels,
                state.expected_counts(),
                job.num_samples,
                job.prompt.batch_size,
            )
            if job.balance_labels and original is None
            else []
        )
        with state.asking(wanted, job.prompt.batch_size):
            await ask(call_index, original, wanted)

    async def ask(call_index: int, original: dict[str, Any] | None, wanted: list[str]) -> None:
        plan = build_call(job.prompt, call_index, wanted_labels=wanted, original=original)
        try:
            batch, attempts = await draft_batch(
                ctx,
                plan,
                call_index,
                schema=schema_for(wanted),
                sampling=sampling,
            )
            for stage in stages:
                await stage(batch, ctx)
        except LimiterUnavailable:
            # Our Redis is down, not the provider: no call was sent. The run waits a
            # moment instead of counting failures against the provider.
            out.wait_seconds = max(out.wait_seconds, LIMITER_WAIT_SECONDS)
            out.wait_reason = out.wait_reason or "limiter"
            return
        except LLMError as exc:
            if exc.retryable and (exc.retry_after or 0) > job.provider.max_retry_after:
                # Not a failure: the provider named a time, and no call goes before it.
                out.wait_seconds = max(out.wait_seconds, exc.retry_after or 0)
                out.wait_reason = "retry_after"
                return
            state.calls_failed += 1
            out.failed_calls += 1
            out.retries += max(0, exc.attempts - 1)
            out.errors.append(exc.user_message)
            if isinstance(exc, FATAL_ERRORS) or (
                state.calls_failed >= MAX_FAILED_CALLS_WITHOUT_SUCCESS and state.calls_ok == 0
            ):
                out.fatal_error = exc.user_message
            return
        state.calls_ok += 1
        out.calls += 1
        out.retries += attempts - 1
        for candidate in batch:
            (out.accepted if candidate.ok else out.rejected).append(candidate)

    async def lane() -> None:
        nonlocal in_flight
        while True:
            call_index = next_call_index()
            if call_index is None:
                if not in_flight:
                    return
                await call_ended.wait()  # rejects in its answer may call for more calls
                continue
            in_flight += 1
            try:
                await one_call(call_index)
            finally:
                in_flight -= 1
                call_ended.set()  # wakes the idle lanes...
                call_ended.clear()  # ...once

    def start_flush() -> None:
        nonlocal flushing, last_flush
        if flush is not None and flushing is None and out.has_results():
            flushing = asyncio.create_task(flush_now())
            last_flush = time.monotonic()

    lane_tasks = [asyncio.create_task(lane()) for _ in range(job.concurrency)]
    lanes = asyncio.gather(*lane_tasks)
    last_beat = last_check = started
    try:
        while not lanes.done():
            # Wake up at the tick, when the lanes end or a flush ends; before the last
            # call is out, when it is; after, when a call ends and no flush is running.
            waits: set[asyncio.Future[Any]] = {lanes}
            if flushing is not None:
                waits.add(flushing)
            waiting = None
            if not all_launched.is_set():
                waiting = asyncio.ensure_future(all_launched.wait())
            elif flushing is None:
                waiting = asyncio.ensure_future(call_ended.wait())
            if waiting is not None:
                waits.add(waiting)
            await asyncio.wait(waits, timeout=TICK, return_when=asyncio.FIRST_COMPLETED)
            if waiting is not None:
                waiting.cancel()
            now = time.monotonic()
            if flushing is not None and flushing.done():
                flushing.result()
                flushing = None
            if now - last_check >= TICK and not out.stopped:
                last_check = now
                out.stopped = await should_stop()
                if out.stopped:
                    # A cancel does not wait for the calls in flight, which may take up
                    # to the provider's timeout; answers already in hand are kept.
                    lanes.cancel()
            if now - started >= job.step_max and not out.out_of_time:
                out.out_of_time = True
                lanes.cancel()
            if now - last_beat >= job.heartbeat_every:
                await heartbeat()
                last_beat = now
            # Once the last calls are out, each answer is committed as soon as no flush
            # is running, so the final commit holds only the last few.
            if not lanes.done() and (all_launched.is_set() or now - last_flush >= job.flush_every):
                start_flush()
        if out.stopped or out.out_of_time:
            with contextlib.suppress(asyncio.CancelledError):
                lanes.exception()  # the lanes' cancellation, retrieved: no error
        else:
            lanes.result()  # surfaces programming errors instead of hiding them
    finally:
        for task in lane_tasks:  # after a failure, the other lanes must not go on calling
            task.cancel()
        # Their cleanup (concurrency slots, token reservations) ends before the commit.
        await asyncio.gather(*lane_tasks, return_exceptions=True)
        if flushing is not None:
            await flushing
    return out
