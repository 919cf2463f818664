"""`{{ lineage|trail_steps }}`: a candidate's trail (outline, draft, tool calls, judgements,
revisions, regenerations) read into plain steps for `datasets/_trail.html`.

A trail is written by the engine from what models answered: every value is untrusted and
may have any shape. Each step is reduced here to strings, numbers and lists the template
prints with autoescaping; nothing is marked safe.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from django import template

from apps.specs.task_types import REASON_LABELS

register = template.Library()

KINDS = ("outline", "draft", "tool", "judge", "revision", "regenerate")
TITLES = {
    "outline": "Outline",
    "draft": "Draft",
    "tool": "Tool call",
    "judge": "Judgement",
    "revision": "Revision",
    "regenerate": "Regenerate",
}


@dataclass
class Verdict:
    check: str
    passed: bool | None  # None: the judge's answer for it is not a clear pass or fail
    reason: str


@dataclass
class OutlineItem:
    situation: str = ""
    points: list[str] = field(default_factory=list)
    label: str = ""
    text: str = ""


@dataclass
class Step:
    kind: str
    title: str
    model: str = ""
    cycle: int | None = None
    thinking: str = ""
    outline: list[OutlineItem] = field(default_factory=list)
    outline_text: str = ""
    finish_reason: str = ""
    by_field: list[str] = field(default_factory=list)
    tool: str = ""
    arguments: str = ""
    result: str = ""
    judged: bool = False
    verdicts: list[Verdict] = field(default_factory=list)
    error: str = ""
    fixes: list[str] = field(default_factory=list)
    payload: str = ""
    reason: str = ""
    feedback: str = ""
    raw: str = ""


def _text(value: Any) -> str:
    """Any JSON value as text: strings as they are, the rest as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _cycle(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _outline(value: Any) -> tuple[list[OutlineItem], str]:
    if not isinstance(value, list):
        return [], _text(value)
    items = []
    for item in value:
        if isinstance(item, dict):
            points = item.get("points")
            items.append(
                OutlineItem(
                    situation=_text(item.get("situation")),
                    points=[_text(p) for p in points] if isinstance(points, list) else [],
                    label=_text(item.get("label")),
                    text="" if isinstance(points, list) or points is None else _text(points),
                )
            )
        else:
            items.append(OutlineItem(text=_text(item)))
    return items, ""


def _verdicts(value: Any) -> list[Verdict]:
    verdicts = []
    for check, verdict in value.items():
        if isinstance(verdict, dict):
            passed = verdict.get("pass")
            verdicts.append(
                Verdict(
                    check=str(check),
                    passed=passed if isinstance(passed, bool) else None,
                    reason=_text(verdict.get("reason")),
                )
            )
        else:
            verdicts.append(Verdict(check=str(check), passed=None, reason=_text(verdict)))
    return verdicts


def read_step(raw: Any) -> Step:
    """One trail step; an unknown kind keeps its JSON."""
    if not isinstance(raw, dict) or raw.get("step") not in KINDS:
        return Step(kind="other", title="Step", raw=_text(raw))
    kind = raw["step"]
    step = Step(
        kind=kind,
        title=TITLES[kind],
        model=_text(raw.get("model")),
        cycle=_cycle(raw.get("cycle")),
        thinking=_text(raw.get("thinking")),
    )
    if kind == "outline":
        step.outline, step.outline_text = _outline(raw.get("outline"))
    elif kind == "draft":
        step.finish_reason = _text(raw.get("finish_reason"))
        by_field = raw.get("by_field")
        step.by_field = [_text(f) for f in by_field] if isinstance(by_field, list) else []
    elif kind == "tool":
        step.tool = _text(raw.get("tool"))
        step.arguments = _text(raw.get("arguments"))
        step.result = _text(raw.get("result"))
    elif kind == "judge":
        step.error = _text(raw.get("error"))
        verdicts = raw.get("verdicts")
        step.judged = isinstance(verdicts, dict)
        step.verdicts = _verdicts(verdicts) if isinstance(verdicts, dict) else []
    elif kind == "revision":
        fixes = raw.get("fixes")
        step.fixes = [_text(f) for f in fixes] if isinstance(fixes, list) else []
        step.payload = _text(raw.get("payload"))
    elif kind == "regenerate":
        reason = _text(raw.get("reason"))
        step.reason = REASON_LABELS.get(reason, reason)
        step.feedback = _text(raw.get("feedback"))
    return step


def trail_steps_of(lineage: Any) -> list[Step]:
    trail = lineage.get("trail") if isinstance(lineage, dict) else None
    return [read_step(raw) for raw in trail] if isinstance(trail, list) else []


@register.filter
def trail_steps(lineage: Any) -> list[Step]:
    return trail_steps_of(lineage)
