"""JSON schemas shared by tests: one that exercises every generator feature at once."""

from __future__ import annotations

from typing import Any

REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 30},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "ok": {"type": "boolean"},
        "label": {"enum": ["positive", "negative", "neutral"]},
        "version": {"const": 2},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "start": {"type": "integer"}},
                "required": ["text", "start"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "rating", "score", "ok", "label", "version", "tags", "entities"],
    "additionalProperties": False,
}
