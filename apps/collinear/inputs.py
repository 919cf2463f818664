"""The body of `POST /api/v1/synth_data/generate`, read as Collinear's service reads it.

A body without the documented shape (a missing field, a wrong type, a multiplier under
1) is a 422 listing every problem, as FastAPI answers; a well-shaped body over one of
Seedbed's limits (20,000 generations, 1,000 examples, sizes, text PostgreSQL cannot
store) is a 400 naming the field.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from apps.core.inputs import InputError, check_payload, parse_json
from apps.runs.services import MAX_SAMPLES
from apps.specs.seeds import MAX_SEEDS
from apps.specs.services import MAX_TEXT_CHARS

from .errors import CollinearError, Problem, invalid, refused

FIELDS = ("model_id", "multiplier", "examples", "prompt")


@dataclass(frozen=True)
class FanOutRequest:
    model_id: uuid.UUID
    multiplier: int
    examples: list[dict[str, Any]]
    prompt: str

    @property
    def generations(self) -> int:
        return len(self.examples) * self.multiplier


def _path_parts(path: str) -> list[str]:
    """`examples[0].response` → the field it starts with, for the error's loc."""
    first = re.match(r"[^.\[]+", path)
    return [first.group(0)] if first else []


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json(raw)
    except InputError as exc:
        if exc.reason.startswith("not valid JSON"):
            raise invalid([Problem(None, "JSON decode error", "json_invalid")]) from None
        parts = _path_parts(exc.field or "")
        raise refused(parts[0] if parts else None, exc.message) from None
    if not isinstance(body, dict):
        raise invalid([Problem(None, "Input should be a valid dictionary", "dict_type")])
    return body


def _model_id(value: Any, problems: list[Problem]) -> uuid.UUID | None:
    if not isinstance(value, str):
        problems.append(Problem("model_id", "UUID input should be a string", "uuid_type"))
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        msg = "Input should be a valid UUID (the UUID of a model on Seedbed's Models page)"
        problems.append(Problem("model_id", msg, "uuid_parsing"))
        return None


def _multiplier(value: Any, problems: list[Problem]) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        msg = "Input should be a valid integer"
        problems.append(Problem("multiplier", msg, "int_type"))
        return None
    if value < 1:
        msg = "Input should be greater than or equal to 1"
        problems.append(Problem("multiplier", msg, "greater_than_equal"))
        return None
    return value


def _examples(value: Any, problems: list[Problem]) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        problems.append(Problem("examples", "Input should be a valid list", "list_type"))
        return None
    if not value:
        msg = "List should have at least 1 item after validation, not 0"
        problems.append(Problem("examples", msg, "too_short"))
        return None
    for index, example in enumerate(value):
        if not isinstance(example, dict):
            msg = f"examples[{index}]: input should be a valid dictionary (a JSON object)"
            problems.append(Problem("examples", msg, "dict_type"))
            return None
    return value


def _prompt(value: Any, problems: list[Problem]) -> str | None:
    if not isinstance(value, str):
        problems.append(Problem("prompt", "Input should be a valid string", "string_type"))
        return None
    return value


def _check_limits(request: FanOutRequest) -> None:
    if len(request.examples) > MAX_SEEDS:
        msg = f"At most {MAX_SEEDS:,} examples per request (got {len(request.examples):,})."
        raise refused("examples", msg)
    if request.generations > MAX_SAMPLES:
        msg = (
            f"len(examples) × multiplier = {len(request.examples):,} × "
            f"{request.multiplier:,} = {request.generations:,} generations; "
            f"the limit is {MAX_SAMPLES:,}."
        )
        raise CollinearError(
            400, [Problem(f, msg, "value_error") for f in ("examples", "multiplier")]
        )
    if len(request.prompt) > MAX_TEXT_CHARS:
        msg = f"At most {MAX_TEXT_CHARS:,} characters (got {len(request.prompt):,})."
        raise refused("prompt", msg)
    for index, example in enumerate(request.examples):
        try:
            check_payload(example, f"examples[{index}]")
        except InputError as exc:
            raise refused("examples", exc.message) from None


def parse_fan_out(raw: bytes) -> FanOutRequest:
    """The request, or CollinearError (422 for its shape, 400 for a limit)."""
    body = _body(raw)
    problems: list[Problem] = []
    for name in FIELDS:
        if name not in body:
            problems.append(Problem(name, "Field required", "missing"))
    model_id = _model_id(body["model_id"], problems) if "model_id" in body else None
    multiplier = _multiplier(body["multiplier"], problems) if "multiplier" in body else None
    examples = _examples(body["examples"], problems) if "examples" in body else None
    prompt = _prompt(body["prompt"], problems) if "prompt" in body else None
    if problems:
        raise invalid(problems)
    assert model_id is not None and multiplier is not None
    assert examples is not None and prompt is not None
    request = FanOutRequest(model_id, multiplier, examples, prompt)
    _check_limits(request)
    return request
