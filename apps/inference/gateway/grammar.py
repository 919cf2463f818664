"""A caller's JSON schema checked before it goes to a model that compiles it into a
grammar (llama.cpp): what cannot be made safe is a 400 naming the part of the field,
e.g. `response_format.json_schema.schema.properties.a.pattern`, instead of an upstream
that crashes. The LLM client makes the same check; here it can name the caller's field.
"""

from __future__ import annotations

from typing import Any

from apps.core.llm.grammar_safety import SchemaRefused, grammar_safe
from apps.core.models import StructuredOutput
from apps.inference.registry import Resolved

from .errors import GatewayError


def refused(exc: SchemaRefused, field: str) -> GatewayError:
    param = exc.field(field)
    return GatewayError(400, f"{param}: {exc.reason}", param=param, code="unsupported_schema")


def check_schema(resolved: Resolved, options: dict[str, Any], field: str) -> None:
    schema = options.get("json_schema")
    if schema is None or resolved.provider.structured_output != StructuredOutput.JSON_OBJECT_SCHEMA:
        return
    try:
        grammar_safe(schema)
    except SchemaRefused as exc:
        raise refused(exc, field) from None
