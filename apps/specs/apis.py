"""REST API for specs and their versions (the project comes from the API key or session)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.parsers import JSONField
from apps.core.services import require_editor

from . import display, selectors, services
from . import seeds as seed_io
from .models import Spec, SpecVersion, TaskType

SEED_TEXT_FIELDS = {"seeds_jsonl": seed_io.JSONL, "seeds_csv": seed_io.CSV}


class SpecVersionSummaryOutput(serializers.ModelSerializer):
    seed_count = serializers.SerializerMethodField()

    class Meta:
        model = SpecVersion
        fields = ["id", "number", "status", "errors", "seed_count", "created_at", "checked_at"]

    def get_seed_count(self, version: SpecVersion) -> int:
        count = getattr(version, "seed_count", None)
        return count if count is not None else len(version.seeds or [])


class SpecLabelCountOutput(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]  # DRF pops declared fields
    count = serializers.IntegerField()
    in_spec = serializers.BooleanField()


class SpecVersionOutput(serializers.ModelSerializer):
    spec_id = serializers.IntegerField(source="spec.pk")
    schema = serializers.SerializerMethodField(help_text="The JSON schema of one sample.")
    label_counts = serializers.SerializerMethodField()

    class Meta:
        model = SpecVersion
        fields = [
            "id",
            "spec_id",
            "number",
            "status",
            "errors",
            "description",
            "instruction",
            "labels",
            "multi_label",
            "requirements",
            "seeds",
            "custom_schema",
            "schema",
            "label_counts",
            "created_at",
            "checked_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_schema(self, version: SpecVersion) -> dict[str, Any]:
        return display.derived_schema(version)

    @extend_schema_field(SpecLabelCountOutput(many=True))
    def get_label_counts(self, version: SpecVersion) -> Any:
        return SpecLabelCountOutput(selectors.label_counts(version), many=True).data


class SpecLatestVersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()


class SpecOutput(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Spec
        fields = ["id", "name", "task_type", "latest_version", "created_at", "updated_at"]

    @extend_schema_field(SpecLatestVersionOutput(allow_null=True))
    def get_latest_version(self, spec: Spec) -> dict[str, Any] | None:
        number = getattr(spec, "latest_number", None)
        if number is None:
            latest = selectors.spec_version_latest(spec)
            if latest is None:
                return None
            return {"number": latest.number, "status": latest.status}
        return {"number": number, "status": spec.latest_status}  # type: ignore[attr-defined]


class SpecDetailOutput(SpecOutput):
    versions = serializers.SerializerMethodField()

    class Meta(SpecOutput.Meta):
        fields = [*SpecOutput.Meta.fields, "versions"]

    @extend_schema_field(SpecVersionSummaryOutput(many=True))
    def get_versions(self, spec: Spec) -> Any:
        versions = selectors.spec_version_list(spec).defer("seeds")
        return SpecVersionSummaryOutput(versions, many=True).data


class SpecContentInput(serializers.Serializer):
    """Version content. Seeds come as `seeds` (objects) or as `seeds_jsonl` / `seeds_csv` text."""

    description = serializers.CharField(help_text="The domain or application the data is for.")
    instruction = serializers.CharField(required=False, allow_blank=True)
    labels = serializers.ListField(child=serializers.CharField(), required=False)
    multi_label = serializers.BooleanField(required=False)
    requirements = serializers.ListField(child=serializers.CharField(), required=False)
    seeds = serializers.ListField(child=JSONField(), required=False)
    seeds_jsonl = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    seeds_csv = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    custom_schema = JSONField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("seeds", *SEED_TEXT_FIELDS) if name in attrs]
        if len(given) > 1:
            raise serializers.ValidationError(
                {given[1]: f"Give seeds once: {given[0]} or {given[1]}, not both."}
            )
        return attrs


class SpecVersionInput(SpecContentInput):
    description = serializers.CharField(required=False)


class SpecCreateInput(SpecContentInput):
    name = serializers.CharField()
    task_type = serializers.ChoiceField(choices=TaskType.choices)


def _content(data: dict[str, Any], *, task_type: str, multi_label: bool) -> dict[str, Any]:
    """Service keyword arguments from validated input: seed text is read into rows."""
    content = dict(data)
    for name, fmt in SEED_TEXT_FIELDS.items():
        if name in content:
            content["seeds"] = seed_io.seeds_from_text(
                content.pop(name),
                fmt=fmt,
                task_type=task_type,
                multi_label=content.get("multi_label", multi_label),
                field=name,
            )
    return content


class SpecListApi(ProjectAPIView):
    @extend_schema(responses=SpecOutput(many=True))
    def get(self, request: Request) -> Response:
        specs = selectors.spec_list(self.membership.project)
        return Response(SpecOutput(specs, many=True).data)

    @extend_schema(request=SpecCreateInput, responses={201: SpecDetailOutput})
    def post(self, request: Request) -> Response:
        require_editor(self.membership)
        serializer = SpecCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        name, task_type = data.pop("name"), data.pop("task_type")
        content = _content(data, task_type=task_type, multi_label=False)
        spec = services.spec_create(
            membership=self.membership,
            name=name,
            task_type=task_type,
            user=self.membership.user,
            **content,
        )
        return Response(SpecDetailOutput(spec).data, status=status.HTTP_201_CREATED)


class SpecDetailApi(ProjectAPIView):
    @extend_schema(responses=SpecDetailOutput)
    def get(self, request: Request, spec_id: int) -> Response:
        spec = selectors.spec_get(self.membership.project, spec_id)
        return Response(SpecDetailOutput(spec).data)


class SpecVersionListApi(ProjectAPIView):
    @extend_schema(responses=SpecVersionSummaryOutput(many=True))
    def get(self, request: Request, spec_id: int) -> Response:
        spec = selectors.spec_get(self.membership.project, spec_id)
        versions = selectors.spec_version_list(spec).defer("seeds")
        return Response(SpecVersionSummaryOutput(versions, many=True).data)

    @extend_schema(
        request=SpecVersionInput,
        responses={201: SpecVersionOutput},
        description="A new version (n+1). Fields left out are copied from the latest version.",
    )
    def post(self, request: Request, spec_id: int) -> Response:
        spec = selectors.spec_get(self.membership.project, spec_id)
        require_editor(self.membership)
        serializer = SpecVersionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        latest = selectors.spec_version_latest(spec)
        content = _content(
            dict(serializer.validated_data),
            task_type=spec.task_type,
            multi_label=bool(latest and latest.multi_label),
        )
        version = services.spec_version_create(
            membership=self.membership, spec=spec, user=self.membership.user, **content
        )
        return Response(SpecVersionOutput(version).data, status=status.HTTP_201_CREATED)


class SpecVersionDetailApi(ProjectAPIView):
    @extend_schema(responses=SpecVersionOutput)
    def get(self, request: Request, spec_id: int, number: int) -> Response:
        version = selectors.spec_version_get_by_number(self.membership.project, spec_id, number)
        return Response(SpecVersionOutput(version).data)
