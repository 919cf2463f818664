"""Writing a spec from seeds with a model: what the samples are about, the requirements
they all meet, and the axes along which they vary (Dataframer's spec generation)."""

import json
from typing import Any

import yaml

from apps.core.llm import LLMClient, load_json_answer, run_sync
from apps.core.models import Provider
from apps.core.services import provider_config

from .spec_yaml import MAX_AXES, MAX_REQUIREMENTS, MAX_VALUES, SpecBody, parse

SYSTEM = (
    "You write data specifications for synthetic data generation. From the example "
    "samples (or the objectives) you say what the data is, the requirements every sample "
    "meets, and the axes along which samples vary, each with its possible values."
)
MAX_PROMPT_EXAMPLES = 20
MAX_PROMPT_CHARS = 12_000
MAX_ANSWER_TOKENS = 4096


def answer_schema(*, distributions: bool) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "type": "object",
        "properties": {
            "axis_name": {"type": "string", "minLength": 1},
            "axis_description": {"type": "string"},
            "possible_values": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 2,
                "maxItems": MAX_VALUES,
            },
        },
        "required": ["axis_name", "axis_description", "possible_values"],
    }
    if distributions:
        axis["properties"]["probabilities"] = {"type": "array", "items": {"type": "number"}}
        axis["required"].append("probabilities")
    return {
        "type": "object",
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "requirements": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "maxItems": MAX_REQUIREMENTS,
            },
            "data_property_variations": {"type": "array", "items": axis, "maxItems": MAX_AXES},
        },
        "required": ["description", "requirements", "data_property_variations"],
    }


def _examples_text(seeds: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    size = 0
    for number, seed in enumerate(seeds[:MAX_PROMPT_EXAMPLES], 1):
        line = f"Example {number}: {json.dumps(seed, ensure_ascii=False)}"
        size += len(line)
        if size > MAX_PROMPT_CHARS and lines:
            break
        lines.append(line[:MAX_PROMPT_CHARS])
    return "\n".join(lines)


def prompt(
    *,
    seeds: list[dict[str, Any]],
    fields: list[str],
    objectives: str,
    params: dict[str, Any],
) -> str:
    parts = []
    if seeds:
        parts.append(f"Each sample has the fields: {', '.join(fields)}.")
        parts.append(_examples_text(seeds))
    if objectives:
        parts.append(f"Objectives for the data:\n{objectives}")
    if params.get("extrapolate_axes"):
        parts.append("Also propose axes of variation that the examples do not show yet.")
    if params.get("extrapolate_values"):
        parts.append("Also propose values beyond those the examples show.")
    if params.get("generate_distributions"):
        parts.append(
            "For every axis give `probabilities`: one number per possible value, in the same "
            "order, summing to 1, as often as each value should appear."
        )
    parts.append(
        "Answer with the description of the data, its requirements (one short rule each) "
        "and its data_property_variations."
    )
    return "\n\n".join(parts)


def _body(answer: Any) -> SpecBody:
    """The model's answer as a spec body, through the same checks as a user's YAML."""
    if not isinstance(answer, dict):
        raise ValueError("the model did not answer with a JSON object")
    axes = []
    for raw in answer.get("data_property_variations") or []:
        if not isinstance(raw, dict):
            continue
        axis = {k: raw.get(k) for k in ("axis_name", "axis_description", "possible_values")}
        values, weights = raw.get("possible_values") or [], raw.get("probabilities")
        if isinstance(weights, list) and len(weights) == len(values):
            total = sum(w for w in weights if isinstance(w, int | float) and w > 0) or 1
            axis["probabilities"] = {
                str(v): round(max(float(w), 0.0) / total, 4)
                for v, w in zip(values, weights, strict=True)
                if isinstance(w, int | float)
            }
        axes.append(axis)
    requirements = answer.get("requirements") or []
    spec = {
        "description": answer.get("description") or "",
        "requirements": [str(r) for r in requirements] if isinstance(requirements, list) else [],
        "data_property_variations": axes,
    }
    return parse(yaml.safe_dump({"spec": spec}))


def spec_write(
    *,
    provider: Provider,
    model: str,
    seeds: list[dict[str, Any]],
    fields: list[str],
    objectives: str,
    params: dict[str, Any],
) -> SpecBody:
    """Ask the model for the spec; LLMError or ValueError (with the reason) on failure."""
    client = LLMClient(provider_config(provider=provider))
    messages = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": prompt(seeds=seeds, fields=fields, objectives=objectives, params=params),
        },
    ]
    schema = answer_schema(distributions=bool(params.get("generate_distributions")))
    result = run_sync(
        client.chat,
        messages,
        model=model,
        json_schema=schema,
        schema_name="spec",
        max_tokens=MAX_ANSWER_TOKENS,
    )
    try:
        answer = load_json_answer(result.content)
    except ValueError as exc:
        raise ValueError(
            f"The model {model} did not answer with the spec as JSON ({exc})."
        ) from exc
    return _body(answer)
