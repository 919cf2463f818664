"""withpi's request bodies and how bad ones are answered.

A missing field, a wrong type or an unknown choice is a 422 in FastAPI's shape
(`{"detail": [{"loc", "msg", "type"}]}`), as withpi's service answers; a value outside a
limit is a 400 naming the field and the limit.
"""

from collections.abc import Iterator
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.core.schema import FIELD_ERRORS
from apps.runs.engines.local_settings import MAX_BATCH, MAX_SHOTS
from apps.runs.models import ExplorationMode
from apps.runs.services import MAX_SAMPLES
from apps.specs.seeds import MAX_SEEDS
from apps.specs.services import MAX_TEXT_CHARS

from .kinds import STATUS_OF_STATE

LIMIT_CODES = frozenset({"max_value", "min_value", "max_length", "min_length"})


class Text(serializers.CharField):
    """A JSON string, not a number or a boolean turned into one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


def _text(max_length: int = MAX_TEXT_CHARS, **kwargs: Any) -> Text:
    return Text(max_length=max_length, trim_whitespace=False, **kwargs)


class _JobInput(serializers.Serializer):
    application_description = _text()
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_BATCH, default=5)
    num_shots = serializers.IntegerField(min_value=0, max_value=MAX_SHOTS, default=5)
    exploration_mode = serializers.ChoiceField(
        ExplorationMode.choices, default=ExplorationMode.BALANCED
    )
    run_parallel_batches = serializers.BooleanField(default=True)
    # Seedbed's own: `<provider>/<model>`; default: the project's embedded model.
    model = _text(max_length=200, required=False)


class DataGenerateInput(_JobInput):
    num_inputs_to_generate = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES)
    seeds = serializers.ListField(child=_text(), max_length=MAX_SEEDS)


class LlmPair(serializers.Serializer):
    llm_input = _text()
    llm_output = _text()


class PairsGenerateInput(_JobInput):
    application_description = _text(required=False, allow_blank=True)
    num_pairs_to_generate = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES)
    seeds = serializers.ListField(child=LlmPair(), max_length=MAX_SEEDS)
    system_prompt = _text(required=False, allow_blank=True)


class JobListInput(serializers.Serializer):
    state = serializers.ChoiceField(list(STATUS_OF_STATE), required=False)


def _flatten(errors: Any, loc: list[str | int]) -> Iterator[tuple[list[str | int], ErrorDetail]]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            step: str | int = int(key) if isinstance(key, int) or str(key).isdigit() else key
            yield from _flatten(value, loc if key == "non_field_errors" else [*loc, step])
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):  # a list of objects: errors by position
                yield from _flatten(value, [*loc, index])
            else:
                yield loc, value
    else:
        yield loc, errors


def _where(loc: list[str | int]) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc).lstrip(".")


def invalid_response(errors: Any, *, where: str = "body") -> Response:
    """422 (FastAPI's shape) for missing or malformed fields, else 400 naming each field
    over its limit."""
    found = list(_flatten(errors, []))
    malformed = [(loc, e) for loc, e in found if getattr(e, "code", "") not in LIMIT_CODES]
    if malformed:
        detail = [
            {"loc": [where, *loc], "msg": str(e), "type": getattr(e, "code", "invalid")}
            for loc, e in malformed
        ]
        return Response({"detail": detail}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    return limits_response({_where(loc) or "detail": str(e) for loc, e in found})


# A 400 of the withpi API: a value over a limit (`limits_response`), or the field errors
# every Seedbed API answers.
LIMITS_ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "Each field and the limit it breaks."},
        "field": {"type": "string", "description": "The first field named."},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["detail", "field", "errors"],
}
BAD_INPUT = OpenApiResponse(
    {"anyOf": [LIMITS_ERROR, FIELD_ERRORS]}, "A value over a limit: the field named."
)


def limits_response(errors: dict[str, str]) -> Response:
    """400: `detail` says each field and its limit; `field` names the first one."""
    text = " ".join(f"{field}: {message}" for field, message in errors.items())
    return Response(
        {"detail": text, "field": next(iter(errors)), "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )
