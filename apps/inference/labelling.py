"""Auto-labelling existing texts with a model: the label-existing API and labelling jobs.

Texts are sent to the gateway's `extract` a bounded number at a time; every call is
recorded in the inference history (task `label_ner` / `label_classification`) so that its
answer can be reviewed and corrected like any other call. One text's failure is reported
in its own result and never loses the answers of the others.
"""

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.inputs import storable
from apps.core.lanes import map_in_lanes
from apps.core.services import EMBEDDED_PROVIDER_NAME
from apps.specs.models import TaskType
from apps.specs.task_types import Checked, SpecContent, check_sample

from .gateway import extraction
from .models import Protocol
from .promote import keep_offsets
from .recording import inference_record
from .registry import model_resolve

MAX_TEXTS = 1000
MAX_TEXT_CHARS = 20_000
MAX_LABELS = 200
MAX_LABEL_CHARS = 100
CONCURRENCY = 8
DEFAULT_THRESHOLD = 0.5
TASKS = (TaskType.NER, TaskType.CLASSIFICATION)
HISTORY_TASK: dict[str, str] = {
    TaskType.NER: "label_ner",
    TaskType.CLASSIFICATION: "label_classification",
}


def default_model_id() -> str:
    return f"{EMBEDDED_PROVIDER_NAME}/{settings.EMBEDDED_LLM_MODEL}"


# --- input limits (the API and the file form share them) --------------------------------


def labels_check(labels: Any) -> list[str]:
    """1 to 200 distinct non-empty labels of at most 100 characters, in the order given."""
    if not isinstance(labels, list) or not labels:
        raise ValidationError({"labels": "labels must be a list of 1 to 200 names."})
    if len(labels) > MAX_LABELS:
        raise ValidationError({"labels": f"labels has {len(labels)} names; at most 200."})
    clean: list[str] = []
    for number, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ValidationError({"labels": f"labels[{number}] must be a non-empty string."})
        if len(label.strip()) > MAX_LABEL_CHARS:
            raise ValidationError(
                {"labels": f"labels[{number}] is longer than {MAX_LABEL_CHARS} characters."}
            )
        if label.strip() not in clean:
            clean.append(label.strip())
    return clean


def texts_check(texts: Any, *, max_texts: int = MAX_TEXTS, where: list[int] | None = None) -> None:
    """1 to `max_texts` non-empty strings of at most 20,000 characters each.

    `where` gives each text's line in a file, so errors point at the line, not an index.
    """
    if not isinstance(texts, list) or not texts:
        raise ValidationError({"texts": f"texts must be a list of 1 to {max_texts:,} strings."})
    if len(texts) > max_texts:
        raise ValidationError({"texts": f"texts has {len(texts):,} items; at most {max_texts:,}."})
    for index, text in enumerate(texts):
        name = f"line {where[index]}" if where else f"texts[{index}]"
        if not isinstance(text, str) or not text.strip():
            raise ValidationError({"texts": f"{name} must be a non-empty string."})
        if len(text) > MAX_TEXT_CHARS:
            raise ValidationError(
                {"texts": f"{name} has {len(text):,} characters; at most {MAX_TEXT_CHARS:,}."}
            )


def threshold_check(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValidationError({"threshold": "threshold must be a number from 0 to 1."})
    if not 0 <= threshold <= 1:
        raise ValidationError({"threshold": "threshold must be a number from 0 to 1."})
    return float(threshold)


# --- calling the model -----------------------------------------------------------------


def extraction_schema(task: str, labels: list[str], multi_label: bool) -> dict[str, Any]:
    """The native /inference schema that asks for exactly these labels."""
    if task == TaskType.NER:
        return {"entities": list(labels)}
    return {
        "classifications": [{"task": "label", "labels": list(labels), "multi_label": multi_label}]
    }


@dataclass
class Outcome:
    """One text's call: the native result or the error, and what it cost."""

    text: str
    native: dict[str, Any] | None = None
    error: str = ""
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    inference_id: int | None = None
    annotation: dict[str, Any] = field(default_factory=dict)


def _usage(native: dict[str, Any]) -> tuple[int, int]:
    usage = native.get("usage")
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("input_tokens", usage.get("prompt_tokens", 0))
    completion = usage.get("output_tokens", usage.get("completion_tokens", 0))
    return int(prompt or 0), int(completion or 0)


async def extract_all(
    *,
    provider: Any,
    upstream_model: str,
    texts: list[str],
    schema: dict[str, Any],
    threshold: float,
    concurrency: int = CONCURRENCY,
) -> list[Outcome]:
    """Label every text, `concurrency` calls in flight; results in the order given."""

    async def one(text: str) -> Outcome:
        started = time.perf_counter()
        try:
            native = await extraction.extract(
                provider=provider,
                upstream_model=upstream_model,
                text=text,
                schema=schema,
                threshold=threshold,
            )
        # Any failure stays with its own text: the other answers are still good.
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return Outcome(text, error=str(exc) or type(exc).__name__, latency_ms=elapsed)
        elapsed = (time.perf_counter() - started) * 1000
        native = native if isinstance(native, dict) else {}
        tokens_in, tokens_out = _usage(native)
        return Outcome(text, native, "", elapsed, tokens_in, tokens_out)

    return await map_in_lanes(one, texts, concurrency)


def annotation(task: str, outcome: Outcome, labels: list[str], multi_label: bool) -> dict[str, Any]:
    """The documented result shape of one text (entities, or label / labels)."""
    native = outcome.native or {}
    if task == TaskType.NER:
        entities = [
            {
                "text": e.get("text"),
                "label": e.get("label"),
                "start": e.get("start"),
                "end": e.get("end"),
                "confidence": e.get("confidence"),
            }
            for e in native.get("entities") or []
            if isinstance(e, dict) and e.get("label") in labels
        ]
        return {"text": outcome.text, "entities": entities}
    found = next((c for c in native.get("classifications") or [] if isinstance(c, dict)), {})
    if multi_label:
        chosen = found.get("labels")
        if not isinstance(chosen, list):
            chosen = [found["label"]] if found.get("label") else []
        chosen = [label for label in chosen if label in labels]
        return {"text": outcome.text, "labels": chosen, "confidence": found.get("confidence")}
    label = found.get("label")
    if label is None and isinstance(found.get("labels"), list) and found["labels"]:
        label = found["labels"][0]
    return {
        "text": outcome.text,
        "label": label if label in labels else None,
        "confidence": found.get("confidence"),
    }


def sample_of(task: str, result: dict[str, Any], labels: list[str], multi: bool) -> Checked:
    """A labelled text as a dataset sample, checked like a generated one."""
    if task == TaskType.NER:
        payload: dict[str, Any] = {"text": result["text"], "entities": result["entities"]}
    elif multi:
        payload = {"text": result["text"], "labels": result["labels"]}
    else:
        payload = {"text": result["text"], "label": result["label"]}
    content = SpecContent(task_type=task, labels=tuple(labels), multi_label=multi)
    checked = check_sample(payload, content)
    if checked.ok and task == TaskType.NER:
        checked.payload = keep_offsets(checked.payload, result["entities"], checked.text)
    return checked


# --- recording and the label-existing call ---------------------------------------------


def outcomes_record(
    *,
    project: Any,
    task: str,
    model_id: str,
    provider: Any,
    upstream_model: str,
    outcomes: list[Outcome],
    schema: dict[str, Any],
    threshold: float,
    labels: list[str],
    multi_label: bool,
    user: Any = None,
    api_key: Any = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """One history row per call, and each outcome's `annotation` filled in."""
    for outcome in outcomes:
        outcome.annotation = annotation(task, outcome, labels, multi_label)
        request = {"text": outcome.text, "schema": schema, "threshold": threshold, **(extra or {})}
        inference = inference_record(
            project=project,
            api_key=api_key,
            user=user if user is not None and user.is_authenticated else None,
            model_id=model_id,
            provider=provider,
            upstream_model=upstream_model,
            protocol=Protocol.NATIVE,
            task=HISTORY_TASK[task],
            request=request,
            input_text=outcome.text,
            # Model text PostgreSQL cannot store becomes U+FFFD (apps/core/inputs.py).
            output=None if outcome.error else storable(outcome.annotation),
            status="error" if outcome.error else "ok",
            error=storable(outcome.error),
            http_status=502 if outcome.error else 200,
            latency_ms=outcome.latency_ms,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
        )
        outcome.inference_id = inference.pk


def resolve(project: Any, model_id: str) -> tuple[Any, str]:
    """The (provider, upstream model) of a model id; ModelNotFound (a 404) if unknown."""
    return model_resolve(project, model_id)


def texts_label(
    *,
    project: Any,
    task: str,
    labels: Any,
    texts: Any,
    model_id: str | None = None,
    multi_label: bool = False,
    threshold: Any = DEFAULT_THRESHOLD,
    user: Any = None,
    api_key: Any = None,
) -> dict[str, Any]:
    """Label 1 to 1,000 texts now; the label-existing response, results in input order."""
    from apps.core.llm import run_sync

    if task not in TASKS:
        raise ValidationError({"task": f"task must be one of {', '.join(TASKS)}."})
    labels = labels_check(labels)
    texts_check(texts)
    threshold = threshold_check(threshold)
    model_id = model_id or default_model_id()
    provider, upstream_model = resolve(project, model_id)
    schema = extraction_schema(task, labels, multi_label)
    outcomes = run_sync(
        extract_all,
        provider=provider,
        upstream_model=upstream_model,
        texts=texts,
        schema=schema,
        threshold=threshold,
    )
    with transaction.atomic():
        outcomes_record(
            project=project,
            task=task,
            model_id=model_id,
            provider=provider,
            upstream_model=upstream_model,
            outcomes=outcomes,
            schema=schema,
            threshold=threshold,
            labels=labels,
            multi_label=multi_label,
            user=user,
            api_key=api_key,
        )
    results = []
    for outcome in outcomes:
        result = {**outcome.annotation, "inference_id": outcome.inference_id}
        if outcome.error:
            result["error"] = outcome.error
        results.append(result)
    return {
        "results": results,
        "model_id": model_id,
        "usage": {
            "input_tokens": sum(o.input_tokens for o in outcomes),
            "output_tokens": sum(o.output_tokens for o in outcomes),
            "calls": len(outcomes),
            "failed": sum(1 for o in outcomes if o.error),
        },
    }
