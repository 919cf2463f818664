"""The shape of an inference's output, checked when someone corrects it.

Extraction outputs (`extract` and the label-existing tasks) are the native result parts:
`entities` (each with `text`, `label` and, optionally, `start`, `end` that must slice the
original text exactly; left out, they are found in the text as a sample edit finds them),
`classifications`, `structures`, `relations`, plus the label-existing shorthand `label` /
`labels` (and `text`, which must be the original text). When the call's request had a
schema, entity labels, classes and relation types must be ones it asked for: a correction
must not bring a label into a dataset that the call never offered. Text outputs (generate,
chat, completions, responses, messages) are a string or `{"output": str}` (`{"text": str}`
is accepted too), normalised to `{"output": str}`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError

from apps.specs.texts import locate_mentions

from .gateway.schema import ClassTask, Spec, spec_parse

EXTRACTION_TASKS = frozenset({"extract", "label_ner", "label_classification"})
EXTRACTION_PARTS = ("entities", "classifications", "structures", "relations")
SHORTHAND = ("text", "label", "labels", "confidence")
MAX_ITEMS = 1000
MAX_LABEL = 200


class _Invalid(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _str(value: Any, where: str, *, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(where, "must be a non-empty string.")
    if limit is not None and len(value) > limit:
        raise _Invalid(where, f"must be at most {limit} characters.")
    return value


def _items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(where, "must be a list.")
    if len(value) > MAX_ITEMS:
        raise _Invalid(where, f"must have at most {MAX_ITEMS} items.")
    return value


def _confidence(item: dict[str, Any], where: str, clean: dict[str, Any]) -> None:
    if "confidence" not in item or item["confidence"] is None:
        return
    value = item["confidence"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _Invalid(f"{where}.confidence", "must be a number from 0 to 1.")
    clean["confidence"] = float(value)


def _offset(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(where, "must be an integer character offset.")
    return value


def _span(item: dict[str, Any], where: str, text: str) -> dict[str, Any]:
    value = _str(item.get("text"), f"{where}.text")
    start = _offset(item.get("start"), f"{where}.start")
    end = _offset(item.get("end"), f"{where}.end")
    if not 0 <= start < end <= len(text):
        raise _Invalid(where, f"offsets {start}..{end} are outside the text (0..{len(text)}).")
    if text[start:end] != value:
        raise _Invalid(where, f"the text at {start}..{end} is {text[start:end]!r}, not {value!r}.")
    return {"text": value, "start": start, "end": end}


def asked_spec(request: Any) -> Spec | None:
    """What a call's request asked for (its `schema`); None when it had none (chat,
    generate) or one that no longer parses: such calls are not checked against labels."""
    schema = request.get("schema") if isinstance(request, dict) else None
    if schema is None:
        return None
    try:
        return spec_parse(schema)
    except ValidationError:
        return None


def _asked(value: str, allowed: list[str] | None, where: str, *, noun: str, part: str) -> str:
    if allowed is None or value in allowed:
        return value
    if not allowed:
        raise _Invalid(where, f"{value!r}: the call asked for no {part}.")
    raise _Invalid(where, f"{value!r} is not one of the call's {noun}: {', '.join(allowed)}.")


def _offsetless(item: Any) -> bool:
    return isinstance(item, dict) and item.get("start") is None and item.get("end") is None


def _entities(value: Any, where: str, text: str, labels: list[str] | None) -> list[dict[str, Any]]:
    items = _items(value, where)
    # Entities given without offsets are found in the text exactly as a sample edit finds
    # them (the k-th mention of a string is its k-th occurrence).
    missing = [n for n, item in enumerate(items) if _offsetless(item)]
    mentions = [_str(items[n].get("text"), f"{where}[{n}].text") for n in missing]
    located = dict(zip(missing, locate_mentions(text, mentions), strict=True))
    clean = []
    for n, item in enumerate(items):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise _Invalid(at, "must be an object with text and label (start and end optional).")
        if n in located:
            span = located[n]
            if span is None:
                raise _Invalid(f"{at}.text", f"{item['text']!r} is not in the call's input text.")
            entity = {"text": item["text"], "start": span[0], "end": span[1]}
        else:
            entity = _span(item, at, text)
        label = _str(item.get("label"), f"{at}.label", limit=MAX_LABEL)
        entity = {
            "text": entity["text"],
            "label": _asked(label, labels, f"{at}.label", noun="labels", part="entities"),
            "start": entity["start"],
            "end": entity["end"],
        }
        _confidence(item, at, entity)
        clean.append(entity)
    clean.sort(key=lambda e: (e["start"], e["end"]))
    return clean


def _labels(value: Any, where: str) -> list[str]:
    return [
        _str(label, f"{where}[{n}]", limit=MAX_LABEL)
        for n, label in enumerate(_items(value, where))
    ]


def _task_labels(
    tasks: list[ClassTask] | None, name: str, where: str, *, named: bool
) -> list[str] | None:
    """The classes the call offered for task `name` (None: not checked). A correction that
    names no task means the call's only one."""
    if tasks is None:
        return None
    if not tasks:
        raise _Invalid(where, "the call asked for no classifications.")
    for task in tasks:
        if task.task == name:
            return list(task.labels)
    if not named and len(tasks) == 1:
        return list(tasks[0].labels)
    names = ", ".join(task.task for task in tasks)
    raise _Invalid(f"{where}.task", f"{name!r} is not one of the call's tasks: {names}.")


def _classes(item: dict[str, Any], at: str, allowed: list[str] | None) -> dict[str, Any]:
    """`{"labels": [...]}` or `{"label": ...}` of one answer, each one the call offered."""
    if "labels" in item:
        labels = _labels(item["labels"], f"{at}.labels")
        for n, label in enumerate(labels):
            _asked(label, allowed, f"{at}.labels[{n}]", noun="labels", part="classifications")
        return {"labels": labels}
    label = _str(item["label"], f"{at}.label", limit=MAX_LABEL)
    return {"label": _asked(label, allowed, f"{at}.label", noun="labels", part="classifications")}


def _classifications(value: Any, where: str, tasks: list[ClassTask] | None) -> list[dict[str, Any]]:
    clean = []
    for n, item in enumerate(_items(value, where)):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise _Invalid(at, "must be an object with task and label (or labels).")
        found: dict[str, Any] = {"task": _str(item.get("task", "label"), f"{at}.task")}
        if "labels" not in item and "label" not in item:
            raise _Invalid(at, "needs a label (or labels for a multi-label task).")
        allowed = _task_labels(tasks, found["task"], at, named="task" in item)
        found.update(_classes(item, at, allowed))
        _confidence(item, at, found)
        clean.append(found)
    return clean


def _scalar(value: Any, where: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
        return value
    raise _Invalid(where, "must be a string, number, boolean, null or a list of those.")


def _structures(value: Any, where: str) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(value, dict):
        raise _Invalid(where, "must be an object: structure name -> list of instances.")
    clean: dict[str, list[dict[str, Any]]] = {}
    for name, instances in value.items():
        at = f"{where}.{name}"
        rows = []
        for n, instance in enumerate(_items(instances, at)):
            if not isinstance(instance, dict):
                raise _Invalid(f"{at}[{n}]", "must be an object of field values.")
            rows.append({k: _scalar(v, f"{at}[{n}].{k}") for k, v in instance.items()})
        clean[str(name)] = rows
    return clean


def _mention(value: Any, where: str, text: str) -> Any:
    if isinstance(value, dict):
        return _span(value, where, text)
    value = _str(value, where)
    if value not in text:
        raise _Invalid(where, f"{value!r} is not in the text.")
    return value


def _relations(value: Any, where: str, text: str, types: list[str] | None) -> list[dict[str, Any]]:
    clean = []
    for n, item in enumerate(_items(value, where)):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise _Invalid(at, "must be an object with head, tail and type.")
        relation = {
            "head": _mention(item.get("head"), f"{at}.head", text),
            "tail": _mention(item.get("tail"), f"{at}.tail", text),
            "type": _asked(
                _str(item.get("type"), f"{at}.type", limit=MAX_LABEL),
                types,
                f"{at}.type",
                noun="relation types",
                part="relations",
            ),
        }
        _confidence(item, at, relation)
        clean.append(relation)
    return clean


def _extraction(output: Any, text: str, field: str, spec: Spec | None) -> dict[str, Any]:
    if not isinstance(output, dict):
        raise _Invalid(field, f"must be an object with any of {', '.join(EXTRACTION_PARTS)}.")
    unknown = sorted(set(output) - set(EXTRACTION_PARTS) - set(SHORTHAND))
    if unknown:
        raise _Invalid(
            f"{field}.{unknown[0]}",
            f"is not part of an extraction output ({', '.join(EXTRACTION_PARTS)}).",
        )
    if not set(output) & {*EXTRACTION_PARTS, "label", "labels"}:
        raise _Invalid(field, f"needs at least one of {', '.join(EXTRACTION_PARTS)}.")
    clean: dict[str, Any] = {}
    if "text" in output:
        if output["text"] != text:
            raise _Invalid(f"{field}.text", "must be the original text, unchanged.")
        clean["text"] = text
    if "entities" in output:
        labels = list(spec.entities) if spec is not None else None
        clean["entities"] = _entities(output["entities"], f"{field}.entities", text, labels)
    tasks = spec.classifications if spec is not None else None
    if "classifications" in output:
        where = f"{field}.classifications"
        clean["classifications"] = _classifications(output["classifications"], where, tasks)
    if "structures" in output:
        clean["structures"] = _structures(output["structures"], f"{field}.structures")
    if "relations" in output:
        types = [r.name for r in spec.relations] if spec is not None else None
        clean["relations"] = _relations(output["relations"], f"{field}.relations", text, types)
    if "labels" in output or "label" in output:
        # The label-existing shorthand answers the call's one task (named "label").
        clean.update(_classes(output, field, _task_labels(tasks, "label", field, named=False)))
    _confidence(output, field, clean)
    return clean


def _text_output(output: Any, field: str) -> dict[str, Any]:
    value = output
    if isinstance(output, dict):
        keys = set(output) & {"output", "text"}
        if len(keys) != 1 or len(output) != 1:
            raise _Invalid(field, 'must be a string or {"output": "..."}.')
        value = output[keys.pop()]
        field = f"{field}.{next(iter(output))}"
    if not isinstance(value, str):
        raise _Invalid(field, 'must be a string or {"output": "..."}.')
    if not value.strip():
        raise _Invalid(field, "must not be empty.")
    return {"output": value}


def output_validate(
    task: str,
    output: Any,
    *,
    text: str,
    field: str = "corrected_output",
    spec: Spec | None = None,
) -> dict[str, Any]:
    """The normalised output, or ValidationError({"<field>.<path>": message}).

    `spec` is what the call asked for (`asked_spec`): its labels are the only ones an
    extraction output may use. None checks no labels."""
    try:
        if task in EXTRACTION_TASKS:
            return _extraction(output, text, field, spec)
        return _text_output(output, field)
    except _Invalid as exc:
        raise ValidationError({exc.where: exc.message}) from None


def effective_output(inference: Any) -> Any:
    """What the inference answered, corrected if someone corrected it: the extraction
    dict, or `{"output": str}` for text tasks."""
    if inference.corrected_output is not None:
        return inference.corrected_output
    if inference.task in EXTRACTION_TASKS:
        return inference.output
    return {"output": inference.output_text}


def generated_text(value: Any, default: str | None = None) -> str:
    """The text of a generate/chat answer or correction (`{"output": ...}` and kin);
    `default`, or the value as JSON, when it holds none."""
    if isinstance(value, str):
        return value
    data = value if isinstance(value, dict) else {}
    for key in ("output", "text", "output_text", "content", "response"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return default if default is not None else json.dumps(value, ensure_ascii=False)
