"""What happens to a model's answer: it is split into candidate samples that pass through
the run's stages in order.

The stage contract. A stage is an async callable `stage(batch, ctx)`:
* `batch` holds the candidates of one draft call; a stage looks only at those still `ok`.
* `ctx` (context.py) gives the models by role (`await ctx.call(stage, role, messages)`;
  every call is metered), the spec and prompt settings, the run's settings, the chunk's
  state (what was accepted so far) and seeded random generators. Stages never touch the
  database: what they decide is committed by the step.
* Its verdict per candidate: keep (do nothing), `reject(reason, detail)`,
  `regenerate(reason, feedback)` (rejected, and the run makes another draft in its place:
  the run always ends with exactly `num_samples` accepted samples, or fails with its call
  budget spent), or revise — a stage that revises does so itself, then judges the
  rewrite again (judging.py).
* Whatever it did goes into the candidate's `trail` (its lineage).
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidfuzz import fuzz, process

from apps.core.inputs import storable
from apps.core.llm import JSONTooDeep, load_json_answer
from apps.specs.task_types import (
    REASON_DUPLICATE,
    REASON_ECHO,
    REASON_TRUNCATED,
    REASON_UNPARSEABLE,
    SpecContent,
    check_sample,
)
from apps.specs.texts import echo_key, text_hash

from .prompts import PromptSettings


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
    # Outline, draft, judgements, revisions and tool calls, in order (the lineage).
    trail: list[dict[str, Any]] = field(default_factory=list)
    # Kept although its last judgement found a problem (no filtering gate asked to drop it).
    flagged: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason

    def reject(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail

    def regenerate(self, reason: str, feedback: str) -> None:
        self.reject(reason, feedback)
        self.trail.append({"step": "regenerate", "reason": reason, "feedback": feedback})


class Stage(Protocol):
    async def __call__(self, batch: list[Candidate], ctx: Any) -> None: ...


@dataclass
class ChunkState:
    """What stages may consult: the spec and what this chunk has accepted so far."""

    content: SpecContent
    echoes: dict[str, str] = field(default_factory=dict)  # echo_key → what it repeats
    seeds: dict[str, str] = field(default_factory=dict)  # echo_key → "seed example N"
    seen_hashes: set[str] = field(default_factory=set)
    label_counts: Counter[str] = field(default_factory=Counter)
    # Samples per label that the calls in flight were asked for.
    asked: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls_ok: int = 0
    calls_failed: int = 0

    @classmethod
    def for_prompt(cls, prompt: PromptSettings) -> "ChunkState":
        seeds = seed_texts(prompt)
        return cls(content=prompt.content, echoes=spec_echoes(prompt, seeds), seeds=seeds)

    def expected_counts(self) -> dict[str, float]:
        """Accepted samples per label plus what the calls in flight were asked for."""
        return {
            label: self.label_counts[label] + self.asked[label] for label in self.content.labels
        }

    @contextmanager
    def asking(self, labels: list[str], samples: int) -> Iterator[None]:
        """Count a call's labels as asked for while it is in flight."""
        share = samples / len(labels) if labels else 0.0
        for label in labels:
            self.asked[label] += share
        try:
            yield
        finally:
            for label in labels:
                self.asked[label] -= share


async def validate_stage(batch: list[Candidate], ctx: Any) -> None:
    chunk: ChunkState = ctx.state
    for candidate in batch:
        if not candidate.ok:
            continue
        checked = check_sample(candidate.payload, chunk.content)
        if not checked.ok:
            candidate.reject(checked.reason, checked.detail)
            continue
        candidate.payload = checked.payload
        candidate.text, candidate.labels = checked.text, checked.labels
        candidate.text_hash = text_hash(checked.text)


def spec_echoes(prompt: PromptSettings, seeds: dict[str, str]) -> dict[str, str]:
    """The spec's own words and seeds that small models hand back as a sample's text."""
    echoes = {echo_key(line): "a requirement" for line in prompt.requirements}
    echoes[echo_key(prompt.instruction)] = "the instruction"
    echoes[echo_key(prompt.description)] = "the description"
    echoes.update({echo_key(label): f"the label {label!r}" for label in prompt.content.labels})
    # A seed handed back word for word adds nothing the spec did not already hold.
    for key, seed in seeds.items():
        echoes.setdefault(key, seed)
    echoes.pop("", None)
    return echoes


def seed_texts(prompt: PromptSettings) -> dict[str, str]:
    """The seeds' texts (as `echo_key` writes them) → "seed example N"."""
    seeds: dict[str, str] = {}
    for number, seed in enumerate(prompt.content.seeds, start=1):
        checked = check_sample(seed, prompt.content)
        if checked.ok and (key := echo_key(checked.text)):
            seeds.setdefault(key, f"seed example {number}")
    return seeds


# How alike (rapidfuzz's ratio, 0-100: 2 x matching characters / both lengths) a text and
# a seed may be before the text counts as the seed reworded.
NEAR_COPY = 85
# A text that holds a seed whole is a copy when the seed is at least this share of it.
SEED_SHARE = 0.6


def near_seed(key: str, seeds: dict[str, str]) -> str | None:
    """What makes the text (an `echo_key`) a near-copy of a seed, or None."""
    match = process.extractOne(key, seeds.keys(), scorer=fuzz.ratio, score_cutoff=NEAR_COPY)
    if match is not None:
        return f"nearly {seeds[match[0]]} ({match[1]:.0f}% alike)"
    for seed_key, seed in seeds.items():
        if len(seed_key) >= SEED_SHARE * len(key) and seed_key in key:
            return f"{seed} with a few words added"
    return None


async def echo_stage(batch: list[Candidate], ctx: Any) -> None:
    """A text that is just a label name, a line of the spec, a seed or a seed reworded a
    little is not a sample."""
    chunk: ChunkState = ctx.state
    for candidate in batch:
        if not candidate.ok:
            continue
        key = echo_key(candidate.text)
        if echoed := chunk.echoes.get(key):
            candidate.reject(REASON_ECHO, f"the text is {echoed}")
        elif chunk.seeds and (near := near_seed(key, chunk.seeds)):
            candidate.reject(REASON_ECHO, f"the text is {near}")


async def dedupe_stage(batch: list[Candidate], ctx: Any) -> None:
    """Exact duplicates within the chunk; the commit drops those already in the dataset."""
    chunk: ChunkState = ctx.state
    for candidate in batch:
        if not candidate.ok:
            continue
        if candidate.text_hash in chunk.seen_hashes:
            candidate.reject(REASON_DUPLICATE, "repeated within the run")
            continue
        chunk.seen_hashes.add(candidate.text_hash)
        chunk.label_counts.update(candidate.labels)


async def seen_stage(batch: list[Candidate], ctx: Any) -> None:
    """Exact duplicates of what the chunk already accepted, before any model judges them."""
    chunk: ChunkState = ctx.state
    for candidate in batch:
        if candidate.ok and candidate.text_hash in chunk.seen_hashes:
            candidate.reject(REASON_DUPLICATE, "repeated within the run")


async def structural_stage(batch: list[Candidate], ctx: Any) -> None:
    """The structural gate: an answer cut off at the token limit is not trusted, even
    where its first samples parsed (schema, empty text, label echoes and seed copies are
    checked for every run)."""
    for candidate in batch:
        draft = next((s for s in reversed(candidate.trail) if s.get("step") == "draft"), {})
        if candidate.ok and draft.get("finish_reason") == "length":
            candidate.regenerate(REASON_TRUNCATED, "the answer was cut off at the token limit")


def stages_for(options: Any) -> list[Stage]:
    """The run's stages in order: the checks every run makes, then the ones it asks for."""
    from .judging import judge_stage  # judging builds on this module

    stages: list[Stage] = [validate_stage, echo_stage, seen_stage]
    if "structural" in options.filters:
        stages.append(structural_stage)
    if options.revisions or "conformance" in options.filters:
        stages.append(judge_stage)
    stages.append(dedupe_stage)  # last: it counts what is accepted
    return stages


def parse_answer(content: str, call_index: int, original: dict[str, Any] | None) -> list[Candidate]:
    """Split a model answer into candidates; an unreadable answer is one rejected candidate."""
    # What the model wrote is kept, but for what PostgreSQL cannot store (apps/core/inputs.py).
    content = storable(content)
    try:
        # Fenced JSON (Anthropic without constrained decoding) reads as the gateway reads it.
        data = storable(load_json_answer(content))
    except JSONTooDeep as exc:
        return [
            Candidate(
                payload=content[:2000],
                call_index=call_index,
                reason=REASON_UNPARSEABLE,
                detail=exc.msg,
            )
        ]
    except json.JSONDecodeError as exc:
        return [
            Candidate(
                payload=content[:2000],
                call_index=call_index,
                reason=REASON_UNPARSEABLE,
                detail=(
                    f"not JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno}, "
                    f"column {exc.colno}"
                ),
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
