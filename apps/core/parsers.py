"""DRF's JSON input through `apps.core.inputs.parse_json`: depth-limited, no NaN or
Infinity, nothing PostgreSQL cannot store. The parser reads JSON bodies; the field reads
JSON sent as a form field (multipart), which DRF decodes with a plain json.loads."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers, serializers

from .inputs import InputError, check_storable, parse_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return parse_json(raw)
        except InputError as exc:
            # A 400 naming the field (DRF's own parser answers "JSON parse error" only).
            raise exceptions.ValidationError(exc.as_dict()) from None


class JSONField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        try:
            if self.binary or getattr(data, "is_json_string", False):
                if isinstance(data, bytes):
                    data = data.decode()
                return parse_json(data, self.field_name or "")
            check_storable(data, self.field_name or "")
        except InputError as exc:
            raise serializers.ValidationError(exc.message) from None
        return data
