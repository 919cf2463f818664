"""How drf-spectacular describes Seedbed's API: API-key authentication, grouping, and
the error answers every endpoint can give."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

PIONEER_TAG = "pioneer-compatible"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """A key goes in either header (Pioneer's X-API-Key, or the bearer token the OpenAI SDK
    and Dataframer send): two schemes, either of which will do."""

    target_class = "apps.core.authentication.ApiKeyAuthentication"
    name = ["ApiKey", "Bearer"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "A Seedbed API key.",
            },
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A Seedbed API key as `Authorization: Bearer <key>`.",
            },
        ]


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


# What `apps.core.api.exception_handler` answers for bad input: each field named, with
# its messages (limits included); a list's or an object's field holds its items' errors
# by index or key (`{"seeds": {"2": ["…"]}}`); errors of the request as a whole come
# under `detail` (a message or a list of them).
_MESSAGES = {"type": "array", "items": {"type": "string"}}
FIELD_ERRORS = {
    "type": "object",
    "properties": {"detail": {"anyOf": [{"type": "string"}, _MESSAGES]}},
    "additionalProperties": {
        "anyOf": [
            _MESSAGES,
            {"type": "object", "description": "Errors of items or fields, by index or key."},
        ]
    },
    "example": {"field": ["What is wrong with it, with the limit it breaks."]},
}
BODIES = {"POST", "PUT", "PATCH"}
WRITES = {*BODIES, "DELETE"}
RATE_LIMITED = OpenApiResponse(
    ErrorOutput, "Over the generate rate limit; `Retry-After` says how many seconds to wait."
)


class SeedbedAutoSchema(AutoSchema):
    """Operations under /api/v1/ are grouped by resource (the first path segment, see
    SCHEMA_PATH_PREFIX); the Pioneer-compatible paths at the root form their own group,
    and their operation ids say so (some serve the same views as /api/v1/inferences/)."""

    def _is_pioneer(self) -> bool:
        return not self.path.startswith("/api/")

    def get_tags(self) -> list[str]:
        return [PIONEER_TAG] if self._is_pioneer() else super().get_tags()

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        return f"pioneer_{operation_id}" if self._is_pioneer() else operation_id

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        """The DRF error answers this operation can give, described once for all views."""
        errors: dict[str, OpenApiResponse] = {}
        body = self.method in BODIES and self.get_request_serializer() is not None
        if body or self.get_override_parameters():
            errors["400"] = OpenApiResponse(FIELD_ERRORS, "Bad input: each field named.")
        if body:
            errors["413"] = OpenApiResponse(ErrorOutput, "The body is over the size limit.")
        if not any(issubclass(p, AllowAny) for p in getattr(self.view, "permission_classes", [])):
            errors["401"] = OpenApiResponse(
                ErrorOutput, "No API key, or an unknown or revoked one."
            )
        if self.method in WRITES:
            errors["403"] = OpenApiResponse(
                ErrorOutput, "A viewer of the project cannot change it."
            )
        if "{" in self.path:
            errors["404"] = OpenApiResponse(ErrorOutput, "No such object in the key's project.")
        return errors

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = super()._get_response_bodies(direction)
        if "401" in bodies:
            return bodies  # the operation describes its own errors (the gateway's shapes)
        for code, error in self._error_responses().items():
            if code not in bodies:
                bodies[code] = self._get_response_for_code(error, code, direction=direction)
        return dict(sorted(bodies.items()))

    def get_description(self) -> str:  # type: ignore[override]
        # Only a view's own docstring describes it: one inherited from a base class (such
        # as ProjectScopedMixin's) says nothing about the endpoint.
        action = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        own = type(self.view).__dict__.get("__doc__")
        return get_doc(action) or (get_doc(type(self.view)) if own else "")


class PageSchema(SeedbedAutoSchema):
    """For a GET that answers one page object ({results, ...}) rather than a bare list: still
    a list operation (`..._list`), not `..._retrieve`."""

    method_mapping = {**SeedbedAutoSchema.method_mapping, "get": "list"}
