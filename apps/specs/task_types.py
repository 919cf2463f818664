"""What a sample of each task type looks like, and how one is checked.

Each task type gives the JSON schema the model is asked to follow, a short description
for the prompt, and a validator that turns a candidate payload into an accepted sample
(normalised payload, its text and labels) or a rejection reason. The same validator checks
seed examples, generated samples, imported rows and edited samples.
"""

import json
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

from .json_schemas import infer_schema, schema_errors, without_enums
from .models import TaskType
from .texts import locate_mentions

# Reject reasons, as counted on runs and shown to people.
REASON_SCHEMA = "schema"
REASON_EMPTY = "empty_text"
REASON_UNKNOWN_LABEL = "unknown_label"
REASON_SPAN = "span_not_found"
REASON_DUPLICATE = "duplicate"
REASON_UNPARSEABLE = "unparseable"
REASON_ECHO = "echo"
REASON_NEAR_DUPLICATE = "near_duplicate"
REASON_CONFORMANCE = "conformance"
REASON_NOT_JUDGED = "not_judged"
REASON_REVISION_INVALID = "revision_invalid"
REASON_TRUNCATED = "truncated"
REASON_LABELS = {
    REASON_UNPARSEABLE: "Answer was not a JSON list of samples",
    REASON_SCHEMA: "Does not follow the schema",
    REASON_EMPTY: "Empty text",
    REASON_UNKNOWN_LABEL: "Label not in the spec",
    REASON_SPAN: "Entity not found in the text",
    REASON_DUPLICATE: "Duplicate of an existing sample",
    REASON_ECHO: "Repeats the spec or a seed instead of a new sample",
    REASON_NEAR_DUPLICATE: "Near-duplicate of another sample",
    REASON_CONFORMANCE: "Breaks a requirement or carries a wrong label (judge)",
    REASON_NOT_JUDGED: "The judge gave no verdict on it",
    REASON_REVISION_INVALID: "Its revision broke the sample",
    REASON_TRUNCATED: "Cut off at the token limit",
}


@dataclass(frozen=True)
class SpecContent:
    """The parts of a spec version that decide what a valid sample is."""

    task_type: str
    labels: tuple[str, ...] = ()
    multi_label: bool = False
    custom_schema: dict[str, Any] | None = None
    seeds: tuple[dict[str, Any], ...] = ()

    @cached_property
    def cache_key(self) -> str:
        """What decides the sample schema (seeds only when a custom schema is inferred)."""
        infers = self.task_type == TaskType.CUSTOM and not self.custom_schema
        parts = [self.task_type, self.labels, self.multi_label, self.custom_schema]
        return json.dumps([*parts, self.seeds if infers else None], sort_keys=True, default=str)


@dataclass
class Checked:
    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    labels: list[str] = field(default_factory=list)
    reason: str = ""
    detail: str = ""


def _reject(reason: str, detail: str) -> Checked:
    return Checked(ok=False, reason=reason, detail=detail)


_SCHEMA_JSON: dict[tuple[str, bool], str] = {}


def _content_schema_json(content: SpecContent, *, loose: bool) -> str:
    """The task's sample schema as JSON, built once per spec content."""
    key = (content.cache_key, loose)
    schema_json = _SCHEMA_JSON.get(key)
    if schema_json is None:
        schema = sample_schema(content)
        schema_json = json.dumps(without_enums(schema) if loose else schema, sort_keys=True)
        if len(_SCHEMA_JSON) > 512:
            _SCHEMA_JSON.clear()
        _SCHEMA_JSON[key] = schema_json
    return schema_json


def _content_errors(
    content: SpecContent, payload: Any, *, loose: bool, limit: int = 1
) -> str | None:
    """The first schema problems of `payload`; `loose` ignores label enums, which get a
    reject reason of their own."""
    return schema_errors(_content_schema_json(content, loose=loose), payload, limit)


# What a sample's text should be, said explicitly: without seed examples small models
# otherwise answer with bare topics ("Billing"), which are useless and mostly duplicates.
REALISTIC_TEXT = (
    "one realistic text from this domain, complete and specific (concrete details, written "
    "the way a real person would write it; never just a topic or a label name)"
)


def _label_schema(content: SpecContent) -> dict[str, Any]:
    return (
        {"type": "string", "enum": list(content.labels)}
        if content.labels
        else {
            "type": "string",
            "minLength": 1,
        }
    )


class TaskHandler(Protocol):
    # True when labels are checked on their own (an unknown label is a reject reason of
    # its own), so the schema check leaves their enum out.
    loose: bool

    def schema(self, content: SpecContent) -> dict[str, Any]: ...
    def describe(self, content: SpecContent) -> str: ...
    def check(self, payload: Any, content: SpecContent) -> Checked: ...


class Ner:
    loose = True

    def schema(self, content: SpecContent) -> dict[str, Any]:
        entity = {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1},
                "label": _label_schema(content),
            },
            "required": ["text", "label"],
        }
        return {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1},
                "entities": {"type": "array", "items": entity},
            },
            "required": ["text", "entities"],
        }

    def describe(self, content: SpecContent) -> str:
        return (
            f"Each sample is {REALISTIC_TEXT}, and the entities it mentions. Every entity's "
            "`text` must be copied exactly from the sample's text; `label` is one of: "
            + ", ".join(content.labels)
            + "."
        )

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        text = payload["text"]
        if not text.strip():
            return _reject(REASON_EMPTY, "text is empty")
        entities: list[dict[str, Any]] = []
        spans = locate_mentions(text, [entity["text"] for entity in payload["entities"]])
        for entity, span in zip(payload["entities"], spans, strict=True):
            if content.labels and entity["label"] not in content.labels:
                return _reject(REASON_UNKNOWN_LABEL, f"label {entity['label']!r}")
            if span is None:
                return _reject(REASON_SPAN, f"{entity['text']!r} is not in the text")
            start, end = span
            entities.append(
                {"text": entity["text"], "label": entity["label"], "start": start, "end": end}
            )
        entities.sort(key=lambda e: (e["start"], e["end"]))
        labels = sorted({e["label"] for e in entities})
        return Checked(
            ok=True, payload={"text": text, "entities": entities}, text=text, labels=labels
        )


class Classification:
    loose = True

    def schema(self, content: SpecContent) -> dict[str, Any]:
        # The label comes first: a model that follows the schema's order then writes a text
        # for the label it chose, rather than labelling a text it already wrote.
        text = {"type": "string", "minLength": 1}
        if content.multi_label:
            labels = {"type": "array", "items": _label_schema(content), "minItems": 1}
            return {
                "type": "object",
                "properties": {"labels": labels, "text": text},
                "required": ["labels", "text"],
            }
        return {
            "type": "object",
            "properties": {"label": _label_schema(content), "text": text},
            "required": ["label", "text"],
        }

    def describe(self, content: SpecContent) -> str:
        how = "one or more labels in `labels`" if content.multi_label else "one `label`"
        return f"Each sample is {REALISTIC_TEXT}, and {how} from: {', '.join(content.labels)}."

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        text = payload["text"]
        if not text.strip():
            return _reject(REASON_EMPTY, "text is empty")
        labels = payload["labels"] if content.multi_label else [payload["label"]]
        unknown = [label for label in labels if content.labels and label not in content.labels]
        if unknown:
            return _reject(REASON_UNKNOWN_LABEL, f"label {unknown[0]!r}")
        labels = sorted(set(labels))
        clean = (
            {"text": text, "labels": labels}
            if content.multi_label
            else {
                "text": text,
                "label": labels[0],
            }
        )
        return Checked(ok=True, payload=clean, text=text, labels=labels)


class Decoder:
    loose = False

    def schema(self, content: SpecContent) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "instruction": {"type": "string", "minLength": 1},
                "input": {"type": "string"},
                "response": {"type": "string", "minLength": 1},
            },
            "required": ["instruction", "response"],
        }

    def describe(self, content: SpecContent) -> str:
        return (
            "Each sample is an `instruction` a user could give, an optional `input` it "
            "refers to, and the ideal `response`."
        )

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        clean = {k: payload[k] for k in ("instruction", "input", "response") if k in payload}
        text = "\n".join(clean.values())
        if not payload["response"].strip():
            return _reject(REASON_EMPTY, "response is empty")
        return Checked(ok=True, payload=clean, text=text)


class Conversation:
    loose = False

    ROLES = ("system", "user", "assistant")

    def schema(self, content: SpecContent) -> dict[str, Any]:
        message = {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": list(self.ROLES)},
                "content": {"type": "string", "minLength": 1},
            },
            "required": ["role", "content"],
        }
        return {
            "type": "object",
            "properties": {
                "conv_prefix": {"type": "array", "items": message, "minItems": 1},
                "response": message,
            },
            "required": ["conv_prefix", "response"],
        }

    def describe(self, content: SpecContent) -> str:
        return (
            "Each sample is a conversation: `conv_prefix` is the list of messages so far "
            "(role and content), `response` is the next assistant message."
        )

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        messages = [*payload["conv_prefix"], payload["response"]]
        clean = {
            "conv_prefix": [{"role": m["role"], "content": m["content"]} for m in messages[:-1]],
            "response": {"role": messages[-1]["role"], "content": messages[-1]["content"]},
        }
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
        return Checked(ok=True, payload=clean, text=text)


class Custom:
    loose = False

    def schema(self, content: SpecContent) -> dict[str, Any]:
        if content.custom_schema:
            return content.custom_schema
        return infer_schema(content.seeds)

    def describe(self, content: SpecContent) -> str:
        fields = ", ".join(f"`{name}`" for name in self.schema(content).get("properties", {}))
        return f"Each sample is an object with the fields {fields}."

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        strings = (
            [v for v in payload.values() if isinstance(v, str)] if isinstance(payload, dict) else []
        )
        text = "\n".join(strings) or json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return Checked(ok=True, payload=payload, text=text)


class Inputs:
    """Plain-text inputs for an LLM application (prompts, questions, requests), as
    withpi generates them: `{"input": "..."}`, seeded by example inputs."""

    loose = False

    def schema(self, content: SpecContent) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"input": {"type": "string", "minLength": 1}},
            "required": ["input"],
        }

    def describe(self, content: SpecContent) -> str:
        return (
            "Each sample is one `input` a real user would send to this application: the "
            "complete text of a request, question or prompt, specific and self-contained. "
            "Write only the input, never an answer to it."
        )

    def check(self, payload: Any, content: SpecContent) -> Checked:
        if error := _content_errors(content, payload, loose=self.loose):
            return _reject(REASON_SCHEMA, error)
        text = payload["input"]
        if not text.strip():
            return _reject(REASON_EMPTY, "input is empty")
        return Checked(ok=True, payload={"input": text}, text=text)


HANDLERS: dict[str, TaskHandler] = {
    TaskType.NER: Ner(),
    TaskType.CLASSIFICATION: Classification(),
    TaskType.DECODER: Decoder(),
    TaskType.CONVERSATION: Conversation(),
    TaskType.CUSTOM: Custom(),
    TaskType.INPUTS: Inputs(),
}


def handler(task_type: str) -> TaskHandler:
    return HANDLERS[task_type]


def sample_schema(content: SpecContent) -> dict[str, Any]:
    """The JSON schema of one sample of the spec."""
    return handler(content.task_type).schema(content)


def schema_problems(payload: Any, content: SpecContent, limit: int) -> str | None:
    """Up to `limit` of the ways `payload` breaks the spec's sample schema (`check_sample`
    names only the first: a generated candidate is rejected by its first problem, while a
    person fixing a seed wants to see them all)."""
    loose = handler(content.task_type).loose
    return _content_errors(content, payload, loose=loose, limit=limit)


def check_sample(payload: Any, content: SpecContent) -> Checked:
    return handler(content.task_type).check(payload, content)


def batch_schema(
    content: SpecContent, size: int, *, only_labels: Collection[str] = ()
) -> dict[str, Any]:
    """The schema a model answers with: `size` samples under a `samples` key.

    `only_labels` narrows a single-label classification to those labels: with structured
    output the model can then only write samples of the labels a balanced run still needs.
    """
    narrowed = tuple(label for label in content.labels if label in only_labels)
    if narrowed and content.task_type == TaskType.CLASSIFICATION and not content.multi_label:
        content = replace(content, labels=narrowed)
    return {
        "type": "object",
        "properties": {
            "samples": {
                "type": "array",
                "items": sample_schema(content),
                "minItems": size,
                "maxItems": size,
            }
        },
        "required": ["samples"],
    }


def content_of(version: Any) -> SpecContent:
    """The SpecContent of a SpecVersion row."""
    return SpecContent(
        task_type=version.spec.task_type,
        labels=tuple(version.labels or ()),
        multi_label=version.multi_label,
        custom_schema=version.custom_schema,
        seeds=tuple(version.seeds or ()),
    )
