"""Errors in the shape Collinear's FastAPI service answers with:
`{"detail": [{"loc": ["body", <field>], "msg": ..., "type": ...}]}` (or a plain string
`detail` for authentication, as FastAPI's HTTPBearer does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

BODY = "body"


@dataclass(frozen=True)
class Problem:
    field: str | None  # a body field (None: the body as a whole)
    msg: str
    type: str

    def as_fastapi(self) -> dict[str, Any]:
        loc = [BODY, self.field] if self.field else [BODY]
        return {"loc": loc, "msg": self.msg, "type": self.type}


@dataclass
class CollinearError(Exception):
    """An answer other than 200: `problems` in FastAPI's list, or a plain `message`."""

    status: int
    problems: list[Problem] = field(default_factory=list)
    message: str = ""

    def response(self) -> JsonResponse:
        detail: Any = [p.as_fastapi() for p in self.problems] if self.problems else self.message
        response = JsonResponse({"detail": detail}, status=self.status)
        if self.status == 401:
            response["WWW-Authenticate"] = "Bearer"
        elif self.status == 405:
            response["Allow"] = "POST"
        return response


def invalid(problems: list[Problem]) -> CollinearError:
    """422: the body does not have the documented shape (FastAPI's validation error)."""
    return CollinearError(422, problems)


def refused(field_name: str | None, msg: str, type_: str = "value_error") -> CollinearError:
    """400: the body has the right shape but breaks one of Seedbed's limits."""
    return CollinearError(400, [Problem(field_name, msg, type_)])
