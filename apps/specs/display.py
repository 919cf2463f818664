"""How a spec version is shown: its derived schema and its seeds as table rows.

Cells are plain strings and lists handed to templates, which autoescape them: seeds are
user content and are never marked safe.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from .models import SpecVersion, TaskType
from .task_types import check_sample, content_of, sample_schema

SEEDS_SHOWN = 100


def derived_schema(version: SpecVersion) -> dict[str, Any]:
    """The JSON schema one sample of this version follows (given, built in or inferred)."""
    return sample_schema(content_of(version))


def schema_json(version: SpecVersion) -> str:
    try:
        return json.dumps(derived_schema(version), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return "(no schema: the version's content is not valid)"


@dataclass
class Cell:
    text: str = ""
    # NER text cut into pieces, each with the label of the entity it is (or "").
    segments: list[tuple[str, str]] = field(default_factory=list)
    # Several short lines: entities, labels, messages.
    items: list[str] = field(default_factory=list)


@dataclass
class SeedTable:
    columns: list[str]
    rows: list[tuple[int, list[Cell]]]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _ner_segments(seed: dict[str, Any], version: SpecVersion) -> list[tuple[str, str]]:
    text = _plain(seed.get("text"))
    checked = check_sample(seed, content_of(version))
    if not checked.ok:
        return [(text, "")]
    segments, at = [], 0
    for entity in checked.payload["entities"]:
        if entity["start"] < at:  # overlapping mention: its label is listed beside the text
            continue
        segments.append((text[at : entity["start"]], ""))
        segments.append((text[entity["start"] : entity["end"]], entity["label"]))
        at = entity["end"]
    segments.append((text[at:], ""))
    return [segment for segment in segments if segment[0]]


def _messages(value: Any) -> list[str]:
    messages = value if isinstance(value, list) else [value]
    return [
        f"{m.get('role', '?')}: {_plain(m.get('content'))}" if isinstance(m, dict) else _plain(m)
        for m in messages
    ]


def _cells(seed: Any, version: SpecVersion, columns: list[str]) -> list[Cell]:
    if not isinstance(seed, dict):
        return [Cell(text=_plain(seed))] + [Cell() for _ in columns[1:]]
    task_type = version.spec.task_type
    if task_type == TaskType.NER:
        entities = seed.get("entities")
        entities = entities if isinstance(entities, list) else []
        return [
            Cell(segments=_ner_segments(seed, version)),
            Cell(
                items=[
                    f"{e.get('label')}: {e.get('text')}" if isinstance(e, dict) else _plain(e)
                    for e in entities
                ]
            ),
        ]
    if task_type == TaskType.CLASSIFICATION:
        labels = seed.get("labels", [seed.get("label")])
        labels = labels if isinstance(labels, list) else [labels]
        return [Cell(text=_plain(seed.get("text"))), Cell(items=[_plain(x) for x in labels])]
    if task_type == TaskType.CONVERSATION:
        return [
            Cell(items=_messages(seed.get("conv_prefix"))),
            Cell(items=_messages(seed.get("response"))),
        ]
    return [Cell(text=_plain(seed.get(column))) for column in columns]


def _columns(version: SpecVersion) -> list[str]:
    task_type = version.spec.task_type
    if task_type == TaskType.NER:
        return ["text", "entities"]
    if task_type == TaskType.CLASSIFICATION:
        return ["text", "labels" if version.multi_label else "label"]
    if task_type == TaskType.DECODER:
        return ["instruction", "input", "response"]
    if task_type == TaskType.CONVERSATION:
        return ["conv_prefix", "response"]
    if task_type == TaskType.INPUTS:
        return ["input"]
    names: list[str] = []
    for seed in version.seeds or []:
        for name in seed if isinstance(seed, dict) else ():
            if name not in names:
                names.append(name)
    return names or ["value"]


def seed_table(version: SpecVersion, limit: int = SEEDS_SHOWN) -> SeedTable:
    columns = _columns(version)
    seeds = version.seeds or []
    rows = [(n, _cells(seed, version, columns)) for n, seed in enumerate(seeds[:limit], 1)]
    return SeedTable(columns=columns, rows=rows, total=len(seeds))
