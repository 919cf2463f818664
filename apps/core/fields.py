"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from psycopg.types.json import Json


class OrderedJSONField(models.JSONField):  # type: ignore[type-arg]
    """JSON kept as written: PostgreSQL `json` (the text itself) instead of `jsonb`.

    `jsonb` reorders an object's keys (shorter first), and for a custom spec the order is
    meaning: the properties of a JSON schema are the columns people read and the order in
    which a model writes its answer under structured output (a `reasoning` before its
    `answer`), and seeds are shown to the model as written. `json` has no indexes or
    containment operators, so this is for values that are read whole, never queried into.
    """

    def db_type(self, connection: Any) -> str:
        return "json"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        encoder = self.encoder
        return Json(value, dumps=lambda obj: json.dumps(obj, cls=encoder))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg parses `json` itself (Django registers a text loader only for jsonb).
        if isinstance(value, str):
            return super().from_db_value(value, expression, connection)
        return value
