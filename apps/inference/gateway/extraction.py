"""Extraction: one constrained LLM call, then Seedbed's own checks of the answer.

The model answers in a JSON schema built from the caller's schema (see schema.py), every
item with a confidence. Seedbed then locates every entity (and relation head and tail) in
the text, taking the exact text and offsets from the text itself and dropping what it
cannot find, keeps only known labels, and applies the threshold. The result is the
native `/inference` body:

    {"entities": [{text, label, start, end, confidence}],
     "classifications": [{task, label, confidence} | {task, labels, confidence}],
     "structures": {name: [{field: value}]},
     "relations": [{head: {text, start, end}, tail: {...}, type, confidence}],
     "usage": {input_tokens, output_tokens, total_tokens}}
"""

from __future__ import annotations

import re
from typing import Any

from apps.core.llm import ChatResult, LLMClient, ProviderBadResponse
from apps.core.llm.answers import load_json_answer
from apps.inference.registry import client_for
from apps.specs.texts import locate_mentions

from .errors import UnreadableAnswer
from .schema import Spec, instructions, json_schema, spec_parse, text_check, threshold_check


def _confidence(value: Any) -> float:
    # A model that leaves it out (providers without constrained decoding) is trusted.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 1.0
    return min(1.0, max(0.0, float(value)))


def _answer(content: str) -> dict[str, Any]:
    # Providers without constrained decoding may wrap the JSON in a fence after some prose.
    try:
        data = load_json_answer(content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderBadResponse(
            "The model's answer was not the JSON object the extraction schema asks for."
        )
    return data


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _occurrences(text: str, mention: str) -> list[tuple[int, int]]:
    words = [re.escape(word) for word in mention.split()]
    pattern = re.compile(r"\s+".join(words), re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _entities(spec: Spec, data: Any, text: str, threshold: float) -> list[dict[str, Any]]:
    items = [
        item
        for item in _dicts(data)
        if isinstance(item.get("text"), str)
        and item["text"].strip()
        and item.get("label") in spec.entities
    ]
    spans = locate_mentions(text, [item["text"].strip() for item in items], loose=True)
    located = [(item, span) for item, span in zip(items, spans, strict=True) if span is not None]
    # "Grace" after "Grace Hopper" is the later, separate "Grace" when there is one: the
    # longest mentions are placed first, shorter ones move off spans already taken.
    located.sort(key=lambda pair: pair[1][0] - pair[1][1])
    found: dict[tuple[int, int, str], dict[str, Any]] = {}
    taken: list[tuple[int, int]] = []
    for item, span in located:
        confidence = _confidence(item.get("confidence"))
        if confidence < threshold:
            continue
        if _overlaps(span, taken):
            free = [s for s in _occurrences(text, item["text"]) if not _overlaps(s, taken)]
            span = free[0] if free else span
        start, end = span
        key = (start, end, item["label"])
        if key not in found or found[key]["confidence"] < confidence:
            found[key] = {
                "text": text[start:end],
                "label": item["label"],
                "start": start,
                "end": end,
                "confidence": confidence,
            }
            taken.append(span)
    return sorted(found.values(), key=lambda e: (e["start"], e["end"], e["label"]))


def _classifications(spec: Spec, data: Any, threshold: float) -> list[dict[str, Any]]:
    answers = data if isinstance(data, dict) else {}
    results: list[dict[str, Any]] = []
    for task in spec.classifications:
        answer = answers.get(task.task)
        if task.multi_label:
            chosen = answer.get("labels") if isinstance(answer, dict) else answer
            kept: dict[str, float] = {}
            for choice in _dicts(chosen):
                label, confidence = choice.get("label"), _confidence(choice.get("confidence"))
                if label in task.labels and confidence >= threshold:
                    kept[label] = max(confidence, kept.get(label, 0.0))
            if kept:
                results.append(
                    {"task": task.task, "labels": list(kept), "confidence": min(kept.values())}
                )
        elif isinstance(answer, dict) and answer.get("label") in task.labels:
            confidence = _confidence(answer.get("confidence"))
            if confidence >= threshold:
                results.append(
                    {"task": task.task, "label": answer["label"], "confidence": confidence}
                )
    return results


def _field_value(value: Any, dtype: str, choices: list[str]) -> Any:
    values = value if isinstance(value, list) else [value]
    values = [str(v) for v in values if isinstance(v, str | int | float) and str(v).strip()]
    if choices:
        values = [v for v in values if v in choices]
    if dtype == "list":
        return values
    return values[0] if values else None


def _structures(spec: Spec, data: Any, threshold: float) -> dict[str, list[dict[str, Any]]]:
    answers = data if isinstance(data, dict) else {}
    results: dict[str, list[dict[str, Any]]] = {}
    for structure in spec.structures:
        rows = []
        for instance in _dicts(answers.get(structure.name)):
            if _confidence(instance.get("confidence")) < threshold:
                continue
            values = instance.get("fields")
            values = values if isinstance(values, dict) else {}
            row = {
                f.name: _field_value(values.get(f.name), f.dtype, f.choices)
                for f in structure.fields
            }
            if any(v not in (None, []) for v in row.values()):
                rows.append(row)
        results[structure.name] = rows
    return results


def _relations(spec: Spec, data: Any, text: str, threshold: float) -> list[dict[str, Any]]:
    names = {r.name for r in spec.relations}
    items = [
        item
        for item in _dicts(data)
        if item.get("type") in names
        and isinstance(item.get("head"), str)
        and isinstance(item.get("tail"), str)
        and _confidence(item.get("confidence")) >= threshold
    ]
    heads = locate_mentions(text, [item["head"].strip() for item in items], loose=True)
    tails = locate_mentions(text, [item["tail"].strip() for item in items], loose=True)
    results = []
    for item, head, tail in zip(items, heads, tails, strict=True):
        if head is None or tail is None:
            continue
        results.append(
            {
                "head": {"text": text[head[0] : head[1]], "start": head[0], "end": head[1]},
                "tail": {"text": text[tail[0] : tail[1]], "start": tail[0], "end": tail[1]},
                "type": item["type"],
                "confidence": _confidence(item.get("confidence")),
            }
        )
    return results


def usage_of(result: ChatResult) -> dict[str, int]:
    return {
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "total_tokens": result.usage.total_tokens,
    }


def result_of(spec: Spec, content: str, text: str, threshold: float) -> dict[str, Any]:
    """The native result parts from the model's answer (usage not included)."""
    data = _answer(content)
    return {
        "entities": _entities(spec, data.get("entities"), text, threshold),
        "classifications": _classifications(spec, data.get("classifications"), threshold),
        "structures": _structures(spec, data.get("structures"), threshold),
        "relations": _relations(spec, data.get("relations"), text, threshold),
    }


def max_tokens_for(text: str) -> int:
    # Room for a rich answer, but bounded: a small model can loop inside the grammar.
    return min(4096, 512 + len(text) // 2)


async def extract_with(
    client: LLMClient, upstream_model: str, text: str, spec: Spec, threshold: float
) -> tuple[dict[str, Any], ChatResult]:
    """One extraction call with an already checked spec: (result with usage, the call)."""
    messages = [
        {"role": "system", "content": instructions(spec)},
        {"role": "user", "content": text},
    ]
    result = await client.chat(
        messages,
        model=upstream_model,
        temperature=0.0,
        max_tokens=max_tokens_for(text),
        json_schema=json_schema(spec),
        schema_name="extraction",
    )
    try:
        found = result_of(spec, result.content, text, threshold)
    except ProviderBadResponse as exc:
        raise UnreadableAnswer(
            exc.user_message,
            content=result.content,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        ) from exc
    found["usage"] = usage_of(result)
    return found, result


async def extract(
    *, provider: Any, upstream_model: str, text: str, schema: Any, threshold: Any
) -> dict[str, Any]:
    """The native result dict for `text` (entities, classifications, structures,
    relations, usage). Raises ValidationError (bad text/schema/threshold, naming the
    field) or the LLM client's LLMError (upstream failure)."""
    text = text_check(text)
    spec = spec_parse(schema)
    found, _ = await extract_with(
        client_for(provider), upstream_model, text, spec, threshold_check(threshold)
    )
    return found
