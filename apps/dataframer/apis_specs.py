"""Specs: `/api/dataframer/specs/...`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.schema import ErrorOutput

from . import selectors, spec_services
from .models import GeneratedSpec
from .presenters import spec_json, spec_summary_json
from .schemas import TAG, SpecListItemOut, SpecOut

FLAGS = (
    "extrapolate_axes",
    "extrapolate_values",
    "generate_distributions",
    "generate_conditional_distributions",
)


class DataframerSpecCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    dataset_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    generation_objectives = serializers.CharField(
        required=False, allow_blank=True, max_length=20_000
    )
    spec_generation_model_name = serializers.CharField(
        required=False, allow_null=True, max_length=200
    )
    extrapolate_axes = serializers.BooleanField(required=False, default=False)
    extrapolate_values = serializers.BooleanField(required=False, default=False)
    generate_distributions = serializers.BooleanField(required=False, default=False)
    generate_conditional_distributions = serializers.BooleanField(required=False, default=False)


class SpecQuery(serializers.Serializer):
    include_versions = serializers.BooleanField(required=False, default=False)
    force = serializers.BooleanField(required=False, default=False)


class SpecUpdateInput(serializers.Serializer):
    content_yaml = serializers.CharField(trim_whitespace=False)


class SpecListApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG], operation_id="dataframer_specs_list", responses=SpecListItemOut(many=True)
    )
    def get(self, request: Request) -> Response:
        specs = selectors.generated_spec_list(project=self.membership.project)
        return Response([spec_summary_json(s) for s in specs])

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_specs_create",
        request=DataframerSpecCreateInput,
        responses={201: SpecOut, 409: ErrorOutput},
    )
    def post(self, request: Request) -> Response:
        data = DataframerSpecCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        project = self.membership.project
        dataset_id = params.get("dataset_id")
        dataset = (
            selectors.seed_dataset_get(project=project, dataset_id=dataset_id)
            if dataset_id
            else None
        )
        spec = spec_services.generated_spec_request(
            membership=self.membership,
            name=params["name"],
            seed_dataset=dataset,
            description=params.get("description", ""),
            generation_objectives=params.get("generation_objectives", ""),
            model_name=params.get("spec_generation_model_name"),
            flags={flag: params[flag] for flag in FLAGS},
        )
        return Response(spec_json(spec), status=status.HTTP_201_CREATED)


class SpecDetailApi(ProjectAPIView):
    def _spec(self, spec_id: str) -> GeneratedSpec:
        return selectors.generated_spec_get(project=self.membership.project, spec_id=spec_id)

    def _query(self, request: Request) -> dict:
        query = SpecQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return dict(query.validated_data)

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_specs_retrieve",
        responses=SpecOut,
        parameters=[OpenApiParameter("include_versions", bool)],
    )
    def get(self, request: Request, spec_id: str) -> Response:
        include = self._query(request)["include_versions"]
        return Response(spec_json(self._spec(spec_id), include_versions=include))

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_specs_update",
        request=SpecUpdateInput,
        responses={200: SpecOut, 409: ErrorOutput, 422: ErrorOutput},
    )
    def put(self, request: Request, spec_id: str) -> Response:
        data = SpecUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        spec = self._spec(spec_id)
        spec_services.generated_spec_update(
            membership=self.membership, spec=spec, content_yaml=data.validated_data["content_yaml"]
        )
        return Response(spec_json(self._spec(spec_id)))

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_specs_delete",
        responses={204: None, 409: ErrorOutput},
        parameters=[OpenApiParameter("force", bool)],
    )
    def delete(self, request: Request, spec_id: str) -> Response:
        force = self._query(request)["force"]
        spec = self._spec(spec_id)
        spec_services.generated_spec_delete(membership=self.membership, spec=spec, force=force)
        return Response(status=status.HTTP_204_NO_CONTENT)
