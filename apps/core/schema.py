"""How drf-spectacular describes Seedbed's API: API-key authentication, grouping."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc

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
