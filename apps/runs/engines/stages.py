"""What happens to a model's answer: it is split into candidate samples, and each stage
in `STAGES` (validate → echo → dedupe) may reject a candidate with a reason. Stages see
the chunk's state (the spec, what was accepted so far) and nothing of the database."""

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidfuzz import fuzz, process

from apps.core.inputs import storable
from apps.specs.task_types import (
    REASON_DUPLICATE,
    REASON_ECHO,
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

    @property
    def ok(self) -> bool:
        return not self.reason


class Stage(Protocol):
    def __call__(self, batch: list[Candidate], chunk: "ChunkState") -> None: ...


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


def echo_stage(batch: list[Candidate], chunk: ChunkState) -> None:
    """A text that is just a label name, a line of the spec, a seed or a seed reworded a
    little is not a sample."""
    for candidate in batch:
        if not candidate.ok:
            continue
        key = echo_key(candidate.text)
        if echoed := chunk.echoes.get(key):
            candidate.reason, candidate.detail = REASON_ECHO, f"the text is {echoed}"
        elif chunk.seeds and (near := near_seed(key, chunk.seeds)):
            candidate.reason, candidate.detail = REASON_ECHO, f"the text is {near}"


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


STAGES: list[Stage] = [validate_stage, echo_stage, dedupe_stage]


def parse_answer(content: str, call_index: int, original: dict[str, Any] | None) -> list[Candidate]:
    """Split a model answer into candidates; an unreadable answer is one rejected candidate."""
    # What the model wrote is kept, but for what PostgreSQL cannot store (apps/core/inputs.py).
    content = storable(content)
    try:
        data = storable(json.loads(content))
    except RecursionError:
        return [
            Candidate(
                payload=content[:2000],
                call_index=call_index,
                reason=REASON_UNPARSEABLE,
                detail="JSON nested too deep to read",
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
