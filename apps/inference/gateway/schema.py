"""The native extraction schema: what a caller asks for, checked, and what the model is
asked to answer (a JSON schema for constrained decoding, and the prompt).

Accepted request shapes (Pioneer's, plus the obvious variants):

    "entities": ["person", "city"]  or  {"person": "a named human", ...}
    "classifications": [{"task": "sentiment", "labels": ["pos", "neg"], "multi_label": false}]
    "structures": {"product": ["name", "price"]}
                  or {"product": {"description": ..., "fields": [{"name": "tags",
                      "dtype": "list", "choices": [...], "description": ...}]}}
                  or [{"name": "product", "fields": [...]}]
    "relations": ["works_for"]  or  [{"name": "works_for", "head": "person", "tail": "org"}]
                 or {"works_for": "description" | {"head": ..., "tail": ..., "description"}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

MAX_TEXT = 100_000
MAX_LABELS = 200
MAX_TASKS = 50
MAX_FIELDS = 100
MAX_NAME = 100
MAX_DESCRIPTION = 1000
MAX_ITEMS = 100  # per list in the model's answer: bounds what a looping model can emit
PARTS = ("entities", "classifications", "structures", "relations")


@dataclass
class ClassTask:
    task: str
    labels: dict[str, str]
    multi_label: bool = False


@dataclass
class Field:
    name: str
    description: str = ""
    dtype: str = "str"  # "str" or "list"
    choices: list[str] = field(default_factory=list)


@dataclass
class Structure:
    name: str
    fields: list[Field]
    description: str = ""


@dataclass
class RelationType:
    name: str
    description: str = ""
    head: str = ""
    tail: str = ""


@dataclass
class Spec:
    entities: dict[str, str] = field(default_factory=dict)
    classifications: list[ClassTask] = field(default_factory=list)
    structures: list[Structure] = field(default_factory=list)
    relations: list[RelationType] = field(default_factory=list)


def _fail(where: str, message: str) -> ValidationError:
    return ValidationError({where: message})


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "must be a non-empty string.")
    if len(value) > MAX_NAME:
        raise _fail(where, f"must be at most {MAX_NAME} characters.")
    return value.strip()


def _description(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise _fail(where, f"must be a string of at most {MAX_DESCRIPTION} characters.")
    return value.strip()


def _named(value: Any, where: str, limit: int) -> dict[str, str]:
    """A list of names or a {name: description} object, as {name: description}."""
    if isinstance(value, list):
        items: list[tuple[Any, Any]] = [(v, None) for v in value]
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        raise _fail(where, "must be a list of names or an object of name: description.")
    if not items:
        raise _fail(where, "must not be empty.")
    if len(items) > limit:
        raise _fail(where, f"has {len(items)} entries; the limit is {limit}.")
    found: dict[str, str] = {}
    for n, (name, description) in enumerate(items):
        label = _name(name, f"{where}[{n}]")
        if label in found:
            raise _fail(f"{where}[{n}]", f"{label!r} is listed twice.")
        found[label] = _description(description, f"{where}.{label}")
    return found


def _classifications(value: Any) -> list[ClassTask]:
    where = "schema.classifications"
    if not isinstance(value, list) or not value:
        raise _fail(where, "must be a non-empty list of {task, labels, multi_label}.")
    if len(value) > MAX_TASKS:
        raise _fail(where, f"has {len(value)} tasks; the limit is {MAX_TASKS}.")
    tasks: list[ClassTask] = []
    for n, item in enumerate(value):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise _fail(at, "must be an object with task and labels.")
        task = _name(item.get("task"), f"{at}.task")
        if any(t.task == task for t in tasks):
            raise _fail(f"{at}.task", f"{task!r} is listed twice.")
        multi = item.get("multi_label", False)
        if not isinstance(multi, bool):
            raise _fail(f"{at}.multi_label", "must be true or false.")
        labels = _named(item.get("labels"), f"{at}.labels", MAX_LABELS)
        tasks.append(ClassTask(task, labels, multi))
    return tasks


def _field(value: Any, where: str) -> Field:
    if isinstance(value, str):
        return Field(_name(value, where))
    if not isinstance(value, dict):
        raise _fail(where, "must be a field name or {name, dtype, choices, description}.")
    dtype = value.get("dtype", "str")
    if dtype not in ("str", "list"):
        raise _fail(f"{where}.dtype", 'must be "str" or "list".')
    choices = value.get("choices") or []
    if not isinstance(choices, list) or len(choices) > MAX_LABELS:
        raise _fail(f"{where}.choices", f"must be a list of at most {MAX_LABELS} strings.")
    return Field(
        _name(value.get("name"), f"{where}.name"),
        _description(value.get("description"), f"{where}.description"),
        dtype,
        [_name(c, f"{where}.choices[{i}]") for i, c in enumerate(choices)],
    )


def _structure(name: str, value: Any, where: str) -> Structure:
    description = ""
    if isinstance(value, dict):
        description = _description(value.get("description"), f"{where}.description")
        value = value.get("fields")
    if not isinstance(value, list) or not value:
        raise _fail(where, "needs a non-empty list of fields.")
    if len(value) > MAX_FIELDS:
        raise _fail(where, f"has {len(value)} fields; the limit is {MAX_FIELDS}.")
    fields = [_field(f, f"{where}.fields[{n}]") for n, f in enumerate(value)]
    if len({f.name for f in fields}) != len(fields):
        raise _fail(where, "lists a field twice.")
    return Structure(name, fields, description)


def _structures(value: Any) -> list[Structure]:
    where = "schema.structures"
    if isinstance(value, dict):
        pairs = [(_name(k, where), v) for k, v in value.items()]
    elif isinstance(value, list):
        pairs = []
        for n, item in enumerate(value):
            if not isinstance(item, dict):
                raise _fail(f"{where}[{n}]", "must be an object with name and fields.")
            pairs.append((_name(item.get("name"), f"{where}[{n}].name"), item))
    else:
        raise _fail(where, "must be an object of name: fields (or a list of {name, fields}).")
    if not pairs or len(pairs) > MAX_TASKS:
        raise _fail(where, f"must name 1 to {MAX_TASKS} structures.")
    if len({name for name, _ in pairs}) != len(pairs):
        raise _fail(where, "lists a structure twice.")
    return [_structure(name, v, f"{where}.{name}") for name, v in pairs]


def _relations(value: Any) -> list[RelationType]:
    where = "schema.relations"
    if isinstance(value, dict):
        items: list[Any] = [
            {"name": k, **(v if isinstance(v, dict) else {"description": v})}
            for k, v in value.items()
        ]
    elif isinstance(value, list):
        items = [{"name": v} if isinstance(v, str) else v for v in value]
    else:
        raise _fail(where, "must be a list of relation names or of {name, head, tail}.")
    if not items or len(items) > MAX_LABELS:
        raise _fail(where, f"must name 1 to {MAX_LABELS} relation types.")
    found: list[RelationType] = []
    for n, item in enumerate(items):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise _fail(at, "must be a name or an object with name, head and tail.")
        name = _name(item.get("name", item.get("type")), f"{at}.name")
        if any(r.name == name for r in found):
            raise _fail(at, f"{name!r} is listed twice.")
        head = _name(item["head"], f"{at}.head") if item.get("head") else ""
        tail = _name(item["tail"], f"{at}.tail") if item.get("tail") else ""
        found.append(RelationType(name, _description(item.get("description"), at), head, tail))
    return found


def spec_parse(schema: Any) -> Spec:
    """The caller's schema, checked; ValidationError names the field and the limit."""
    if not isinstance(schema, dict):
        raise _fail("schema", f"must be an object with any of {', '.join(PARTS)}.")
    unknown = sorted(set(schema) - set(PARTS))
    if unknown:
        raise _fail(f"schema.{unknown[0]}", f"is not one of {', '.join(PARTS)}.")
    if not any(schema.get(part) for part in PARTS):
        raise _fail("schema", f"must ask for at least one of {', '.join(PARTS)}.")
    spec = Spec()
    if schema.get("entities"):
        spec.entities = _named(schema["entities"], "schema.entities", MAX_LABELS)
    if schema.get("classifications"):
        spec.classifications = _classifications(schema["classifications"])
    if schema.get("structures"):
        spec.structures = _structures(schema["structures"])
    if schema.get("relations"):
        spec.relations = _relations(schema["relations"])
    return spec


def text_check(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _fail("text", "must be a non-empty string.")
    if len(text) > MAX_TEXT:
        raise _fail("text", f"has {len(text):,} characters; the limit is {MAX_TEXT:,}.")
    return text


def threshold_check(value: Any, default: float = 0.5) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _fail("threshold", "must be a number from 0 to 1.")
    return float(value)


# ---- what the model is asked ---------------------------------------------------------


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    # Every property required and nothing else allowed: what strict structured output
    # (OpenAI, vLLM) demands, and it keeps grammar-constrained models on track.
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, "maxItems": MAX_ITEMS}


CONFIDENCE = {"type": "number"}


def _enum(names: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(names)}


def json_schema(spec: Spec) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if spec.entities:
        entity = {"text": {"type": "string"}, "label": _enum(spec.entities)}
        properties["entities"] = _array(_object({**entity, "confidence": CONFIDENCE}))
    if spec.classifications:
        tasks = {}
        for task in spec.classifications:
            choice = _object({"label": _enum(task.labels), "confidence": CONFIDENCE})
            tasks[task.task] = _object({"labels": _array(choice)}) if task.multi_label else choice
        properties["classifications"] = _object(tasks)
    if spec.structures:
        shapes = {}
        for structure in spec.structures:
            values = {}
            for f in structure.fields:
                value = _enum(f.choices) if f.choices else {"type": "string"}
                values[f.name] = _array(value) if f.dtype == "list" else value
            shapes[structure.name] = _array(
                _object({"fields": _object(values), "confidence": CONFIDENCE})
            )
        properties["structures"] = _object(shapes)
    if spec.relations:
        relation = {
            "head": {"type": "string"},
            "type": _enum(r.name for r in spec.relations),
            "tail": {"type": "string"},
            "confidence": CONFIDENCE,
        }
        properties["relations"] = _array(_object(relation))
    return _object(properties)


def _described(name: str, description: str) -> str:
    return f"- {name}: {description}" if description else f"- {name}"


def instructions(spec: Spec) -> str:
    lines = [
        "You extract information from the user's text. Answer with one JSON object that "
        "follows the schema and nothing else. Copy every entity, head and tail exactly as "
        "it is written in the text. Give every item a confidence from 0 to 1. Leave out "
        "what the text does not contain.",
    ]
    if spec.entities:
        lines.append("Entity labels:")
        lines += [_described(k, v) for k, v in spec.entities.items()]
    for task in spec.classifications:
        how = "every label that applies" if task.multi_label else "exactly one label"
        lines.append(f"Classification {task.task!r} ({how}):")
        lines += [_described(k, v) for k, v in task.labels.items()]
    for structure in spec.structures:
        lines.append(_described(f"Structure {structure.name!r}", structure.description))
        for f in structure.fields:
            kind = "a list" if f.dtype == "list" else "text"
            lines.append(_described(f"  {f.name} ({kind})", f.description))
    if spec.relations:
        lines.append("Relation types (head and tail are mentions in the text):")
        for r in spec.relations:
            ends = f" (head: {r.head or 'any'}, tail: {r.tail or 'any'})"
            lines.append(_described(r.name + ends, r.description))
    return "\n".join(lines)
