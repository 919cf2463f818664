"""Where variety comes from: a plan of attributes per call, and outlines.

Every draft call gets its own combination of attributes (style, voice, angle, length and,
once the run has one, a topic from its topic plan), so that prompts differ from call to
call: combinations are taken in a seeded, shuffled order, so the first calls of a run all
differ (as many as there are combinations). Without it, a run of one sample per call sent
the same prompt a thousand times and got back near-copies.

With outlines on, the run first asks the outline model once for a plan of sub-topics (kept
in the run's engine state), and each draft call is preceded by an outline call that plans
its samples: situation, points to cover and label, which the draft then follows.
"""

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from apps.core.llm import load_json_answer

STYLES = (
    "plain and direct",
    "casual",
    "formal",
    "terse",
    "detailed",
    "emotional",
    "polite",
    "technical",
    "hesitant",
    "matter-of-fact",
)
VOICES = (
    "a newcomer to the subject",
    "an expert",
    "a non-native speaker",
    "someone in a hurry",
    "a long-time insider",
    "a sceptic",
    "an enthusiast",
    "a careful professional",
)
ANGLES = (
    "an everyday case",
    "an unusual edge case",
    "a follow-up to something earlier",
    "a comparison",
    "a specific number, date or name",
    "a question",
    "a mixed or ambiguous situation",
    "a clear-cut textbook case",
    "a first encounter",
    "a repeated problem",
    "a small detail",
    "a big picture view",
)
LENGTHS = (
    "at the short end of what the requirements allow",
    "of middling length within the requirements",
    "at the long end of what the requirements allow",
)
MIN_TOPICS, MAX_TOPICS = 10, 40
TOPICS_SCHEMA = {
    "type": "object",
    "properties": {
        "topics": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": MIN_TOPICS,
            "maxItems": MAX_TOPICS,
        }
    },
    "required": ["topics"],
}


@dataclass(frozen=True)
class CallAttributes:
    style: str
    voice: str
    angle: str
    length: str
    topic: str = ""

    def as_prompt(self) -> str:
        topic = f" about {self.topic}," if self.topic else ""
        return (
            f"For this call: write{topic} in a {self.style} style, as {self.voice} would, "
            f"taking {self.angle}, each sample {self.length}."
        )


def _coprime_step(size: int, rng: random.Random) -> int:
    while True:
        step = rng.randrange(1, max(2, size))
        if math.gcd(step, size) == 1:
            return step


def attributes_for(call_index: int, *, seed: int, topics: tuple[str, ...] = ()) -> CallAttributes:
    """The attributes of call `call_index`: distinct for the first calls of a run (a seeded
    affine walk through all combinations), the same after a crash."""
    dims: list[tuple[str, ...]] = [STYLES, VOICES, ANGLES, LENGTHS]
    if topics:
        dims.append(topics)
    size = math.prod(len(d) for d in dims)
    rng = random.Random(f"{seed}:attributes")
    position = (_coprime_step(size, rng) * call_index + rng.randrange(size)) % size
    picked = []
    for values in dims:
        position, digit = divmod(position, len(values))
        picked.append(values[digit])
    return CallAttributes(*picked)


def topics_messages(
    description: str, instruction: str, seeds: tuple[dict[str, Any], ...]
) -> list[dict[str, str]]:
    shown = "\n".join(json.dumps(s, ensure_ascii=False) for s in seeds[:5])
    return [
        {
            "role": "system",
            "content": "You plan varied training data. Answer with JSON only.",
        },
        {
            "role": "user",
            "content": f"Domain: {description.strip()}\n"
            + (f"Instructions: {instruction.strip()}\n" if instruction.strip() else "")
            + (f"Examples:\n{shown}\n" if shown else "")
            + f"\nList {MAX_TOPICS} distinct, specific sub-topics or situations of this domain "
            'that the data should cover, as {"topics": [...]}.',
        },
    ]


def topics_from(answer: str) -> tuple[str, ...]:
    """The plan's topics: distinct, non-empty, short; () when the answer holds none."""
    try:
        data = load_json_answer(answer)
    except ValueError:
        return ()
    items = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return ()
    seen: dict[str, str] = {}
    for item in items:
        if isinstance(item, str) and (text := " ".join(item.split())[:120]):
            seen.setdefault(text.lower(), text)
    return tuple(seen.values())[:MAX_TOPICS]


def outline_schema(batch_size: int) -> dict[str, Any]:
    """One outline per sample the draft will write."""
    return {
        "type": "object",
        "properties": {
            "outlines": {
                "type": "array",
                "minItems": batch_size,
                "maxItems": batch_size,
                "items": {
                    "type": "object",
                    "properties": {
                        "situation": {"type": "string"},
                        "points": {"type": "array", "items": {"type": "string"}},
                        "label": {"type": "string"},
                    },
                    "required": ["situation", "points", "label"],
                },
            }
        },
        "required": ["outlines"],
    }


def outline_messages(draft_messages: list[dict[str, str]], batch_size: int) -> list[dict[str, str]]:
    """Ask to plan the samples the draft call would write: one outline per sample."""
    user = draft_messages[-1]["content"]
    return [
        {"role": "system", "content": "You plan training data samples. Answer with JSON only."},
        {
            "role": "user",
            "content": f"{user}\n\nDo not write the samples yet. Plan {batch_size} of them: for "
            "each, the situation, the points it will cover and the label or entities it will "
            'carry (empty if none), as {"outlines": [...]}.',
        },
    ]


def with_outline(draft_messages: list[dict[str, str]], outline: str) -> list[dict[str, str]]:
    """The draft call's messages, told to follow the outline."""
    *head, last = draft_messages
    return [
        *head,
        {
            **last,
            "content": f"{last['content']}\n\nFollow this plan, one sample per outline:\n{outline}",
        },
    ]
