"""The semantic check of a spec version: what the check job decides SUCCEEDED or FAILED on.

Submit-time validation (services) refuses input that cannot be stored at all; this check
judges whether stored content makes sense as a spec, and explains every problem.
"""

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .models import TaskType
from .seeds import LABELLED_TASKS, MAX_SEEDS, check_seeds, problem_messages
from .task_types import SpecContent

MIN_LABELS, MAX_LABELS = 1, 200
MAX_LABEL_CHARS = 100
MAX_REQUIREMENTS = 50


def _label_problems(task_type: str, labels: Any) -> list[str]:
    if task_type not in LABELLED_TASKS:
        return []
    kind = "an NER" if task_type == TaskType.NER else "a classification"
    what = "entity types" if task_type == TaskType.NER else "classes"
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return ["Labels must be a list of strings."]
    if len(labels) < MIN_LABELS:
        return [f"Labels: {kind} spec needs at least {MIN_LABELS} label (its {what})."]
    problems = []
    if len(labels) > MAX_LABELS:
        problems.append(f"Labels: at most {MAX_LABELS} labels (this version has {len(labels)}).")
    if any(not label.strip() for label in labels):
        problems.append("Labels: a label is empty.")
    too_long = [label for label in labels if len(label) > MAX_LABEL_CHARS]
    if too_long:
        problems.append(
            f"Labels: each label can be at most {MAX_LABEL_CHARS} characters "
            f"({too_long[0][:30]!r}… has {len(too_long[0])})."
        )
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        problems.append(f"Labels: each label must be unique; repeated: {', '.join(duplicates)}.")
    return problems


def _schema_problems(task_type: str, schema: Any, seeds: list[Any]) -> list[str]:
    if task_type != TaskType.CUSTOM:
        return []
    if schema is None:
        if not seeds:
            return [
                "Custom spec: give a JSON schema for the rows or seed examples to infer one from."
            ]
        return []
    if not isinstance(schema, dict):
        return ["Custom schema must be a JSON object."]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "schema"
        return [f"Custom schema is not a valid JSON Schema ({where}: {exc.message})."]
    if schema.get("type") != "object":
        return ['Custom schema must describe an object: set "type": "object".']
    return []


def version_problems(
    *,
    task_type: str,
    description: str,
    labels: Any,
    multi_label: bool,
    requirements: Any,
    seeds: Any,
    custom_schema: Any,
) -> list[str]:
    """Every reason the content is not a usable spec; empty means it is."""
    if task_type not in TaskType.values:
        return [f"Unknown task type {task_type!r}."]
    problems = []
    if not (description or "").strip():
        problems.append("Description is empty: say what domain or application the data is for.")
    label_problems = _label_problems(task_type, labels)
    problems += label_problems
    if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
        problems.append("Requirements must be a list of strings.")
    elif len(requirements) > MAX_REQUIREMENTS:
        problems.append(
            f"Requirements: at most {MAX_REQUIREMENTS} (this version has {len(requirements)})."
        )
    if not isinstance(seeds, list):
        return [*problems, "Seeds must be a list of objects."]
    if len(seeds) > MAX_SEEDS:
        problems.append(f"Seeds: at most {MAX_SEEDS:,} (this version has {len(seeds):,}).")
    schema_problems = _schema_problems(task_type, custom_schema, seeds)
    problems += schema_problems
    # Seeds are judged against the labels and schema, so only once those are sound.
    if not label_problems and not schema_problems:
        content = SpecContent(
            task_type=task_type,
            labels=tuple(labels or ()),
            multi_label=multi_label,
            custom_schema=custom_schema,
            seeds=tuple(seeds),
        )
        problems += problem_messages(check_seeds(seeds, content))
    return problems
