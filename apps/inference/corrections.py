"""The correction editor: what it shows, and turning its form into a corrected output.

A correction is checked here so that a person sees what is wrong in their own terms
("entity 2: 'Pariss' is not in the text"); `inference_feedback` then stores it.
"""

import json
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError
from django.http import QueryDict

from apps.specs.models import TaskType
from apps.specs.texts import locate_mentions

from . import outputs, promote
from .forms import parse_entities
from .models import Inference
from .outputs import EXTRACTION_PARTS, generated_text

# What a corrected extraction may carry besides the part being corrected (outputs.py
# refuses anything else, e.g. a native result's `usage`).
KEPT_KEYS = (*EXTRACTION_PARTS, "text")

MAX_LABEL_CHARS = 100


def error_lines(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, items in exc.message_dict.items()
            for message in items
        ]
    return list(exc.messages)


def classes_of(output: Any) -> list[str]:
    """The class names an output (native or label-existing) gives."""
    data = output if isinstance(output, dict) else {}
    found = data.get("classifications")
    if isinstance(found, list) and found and isinstance(found[0], dict):
        data = found[0]
    if isinstance(data.get("labels"), list):
        return [str(label) for label in data["labels"]]
    return [str(data["label"])] if data.get("label") is not None else []


def _schema(inference: Inference) -> dict[str, Any]:
    request = inference.request if isinstance(inference.request, dict) else {}
    schema = request.get("schema")
    return schema if isinstance(schema, dict) else {}


def known_labels(inference: Inference, kind: str) -> list[str]:
    """Labels the call was asked for, then any others its answers used."""
    schema = _schema(inference)
    labels: list[str] = []
    if kind == TaskType.NER:
        asked = schema.get("entities")
        if isinstance(asked, dict):
            asked = list(asked)
        labels = [str(a) for a in asked or [] if isinstance(a, str)]
        for source in (inference.output, inference.corrected_output):
            entities = source.get("entities") if isinstance(source, dict) else None
            for entity in entities if isinstance(entities, list) else []:
                if isinstance(entity, dict) and isinstance(entity.get("label"), str):
                    labels.append(entity["label"])
    else:
        asked_list = schema.get("classifications")
        if isinstance(asked_list, list) and asked_list and isinstance(asked_list[0], dict):
            labels = [str(a) for a in asked_list[0].get("labels") or []]
        labels += classes_of(inference.output) + classes_of(inference.corrected_output)
    return list(dict.fromkeys(labels))


def is_multi_label(inference: Inference) -> bool:
    asked = _schema(inference).get("classifications")
    if (
        isinstance(asked, list)
        and asked
        and isinstance(asked[0], dict)
        and asked[0].get("multi_label")
    ):
        return True
    data = inference.output if isinstance(inference.output, dict) else {}
    found = data.get("classifications")
    if isinstance(found, list) and found and isinstance(found[0], dict):
        data = found[0]
    return isinstance(data.get("labels"), list)


def editor_context(inference: Inference, post: QueryDict | None) -> dict[str, Any]:
    """The editor pre-filled with the current answer (or what was just typed)."""
    kind = promote.task_type_of(inference, inference.output) or TaskType.DECODER
    current = (
        inference.corrected_output if inference.corrected_output is not None else inference.output
    )
    context: dict[str, Any] = {"kind": kind, "labels": known_labels(inference, kind)}
    if kind == TaskType.NER:
        entities = current.get("entities") if isinstance(current, dict) else []
        rows = [
            {k: e.get(k) for k in ("text", "label", "start", "end")}
            for e in entities or []
            if isinstance(e, dict)
        ]
        context["entities_json"] = (
            post.get("entities", "")
            if post is not None
            else json.dumps(rows, ensure_ascii=False, indent=1)
        )
    elif kind == TaskType.CLASSIFICATION:
        context["multi"] = is_multi_label(inference)
        context["selected"] = post.getlist("classes") if post is not None else classes_of(current)
        context["new_class"] = post.get("new_class", "") if post is not None else ""
        # A call that named its classes takes no others (outputs.py refuses them).
        context["other_class"] = outputs.asked_spec(inference.request) is None
    else:
        context["text"] = (
            post.get("text", "")
            if post is not None
            else generated_text(current if current is not None else inference.output_text)
        )
    return context


def _has_offsets(entity: dict[str, Any]) -> bool:
    start, end = entity.get("start"), entity.get("end")
    return isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)


def _entity_spans(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Entities without offsets are found as everywhere else (the k-th mention of a string
    # is its k-th occurrence).
    missing = [n for n, entity in enumerate(entities) if not _has_offsets(entity)]
    mentions = [str(entities[n].get("text") or "") for n in missing]
    located = dict(zip(missing, locate_mentions(text, mentions), strict=True))
    spans: list[dict[str, Any]] = []
    for number, entity in enumerate(entities, start=1):
        value, label = entity.get("text"), str(entity.get("label", "")).strip()
        if len(label) > MAX_LABEL_CHARS:
            raise ValidationError(f"Entity {number}: the label is longer than {MAX_LABEL_CHARS}.")
        if number - 1 in located:
            if not isinstance(value, str) or not value:
                raise ValidationError(f"Entity {number}: give its text (or start and end).")
            span = located[number - 1]
            if span is None:
                raise ValidationError(f"Entity {number}: {value!r} is not in the text.")
            start, end = span
        else:
            start, end = entity["start"], entity["end"]
            if not 0 <= start < end <= len(text):
                raise ValidationError(
                    f"Entity {number}: offsets {start}–{end} are outside the text (0–{len(text)})."
                )
            if value not in (None, "") and text[start:end] != value:
                raise ValidationError(
                    f"Entity {number}: the text at {start}–{end} is {text[start:end]!r}, "
                    f"not {value!r}."
                )
            value = text[start:end]
        spans.append({"text": value, "label": label, "start": start, "end": end})
    spans.sort(key=lambda s: (s["start"], s["end"]))
    for before, after in pairwise(spans):
        if after["start"] < before["end"]:
            raise ValidationError(
                f"Entities {before['text']!r} and {after['text']!r} overlap; keep one."
            )
    return spans


def correction_from_post(inference: Inference, post: QueryDict) -> Any:
    """The corrected output the editor's form stands for; ValidationError says what is wrong."""
    kind = promote.task_type_of(inference, inference.output) or TaskType.DECODER
    raw = inference.output if isinstance(inference.output, dict) else {}
    output = {k: v for k, v in raw.items() if k in KEPT_KEYS}
    if kind == TaskType.NER:
        entities = _entity_spans(inference.input_text, parse_entities(post.get("entities", "")))
        return {**output, "entities": entities}
    if kind == TaskType.CLASSIFICATION:
        chosen = [c.strip() for c in post.getlist("classes") if c.strip()]
        other = str(post.get("new_class", "")).strip()
        if other:
            chosen.append(other)
        chosen = list(dict.fromkeys(chosen))
        if any(len(c) > MAX_LABEL_CHARS for c in chosen):
            raise ValidationError(f"A class name is longer than {MAX_LABEL_CHARS} characters.")
        multi = is_multi_label(inference)
        if not chosen:
            raise ValidationError("Pick the right class" + ("es." if multi else "."))
        if not multi and len(chosen) > 1:
            raise ValidationError(f"Pick one class, not {len(chosen)} ({', '.join(chosen)}).")
        answer: dict[str, Any] = {"labels": chosen} if multi else {"label": chosen[0]}
        found = output.get("classifications")
        if isinstance(found, list) and found and isinstance(found[0], dict):
            task = found[0].get("task", "label")
            return {**output, "classifications": [{"task": task, **answer}]}
        return output | answer
    text = post.get("text", "")
    if not text.strip():
        raise ValidationError("The corrected text is empty.")
    return {"output": text}
