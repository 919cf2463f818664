"""REST API for datasets, samples, imports and exports (the project comes from the key)."""

from collections.abc import Sequence
from typing import Any

from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.inputs import MAX_BIGINT, InputError, query_int
from apps.core.parsers import JSONField
from apps.specs.models import TaskType

from . import importing, selectors, services
from .browsing import ROW_FIELDS
from .http import export_response
from .models import Dataset, ExportFormat, ExportJob, ReviewState, Sample
from .views_exports import export_file_response


class DatasetOutput(serializers.ModelSerializer):
    sample_count = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "task_type", "latest_version", "sample_count", "created_at"]

    def get_sample_count(self, dataset: Dataset) -> int:
        return self.context["sizes"].get(dataset.pk, 0)


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]
    run_id = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    added = serializers.IntegerField(help_text="Samples this version added.")
    total = serializers.IntegerField(help_text="Samples in this version (1..n).")
    is_open = serializers.BooleanField(help_text="Still receiving samples from its run.")


class LabelCountOutput(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class DatasetDetailOutput(DatasetOutput):
    versions = VersionOutput(many=True, source="version_infos")
    label_counts = LabelCountOutput(many=True, help_text="In the latest version.")

    class Meta(DatasetOutput.Meta):
        fields = [*DatasetOutput.Meta.fields, "versions", "label_counts"]


class SampleOutput(serializers.ModelSerializer):
    class Meta:
        model = Sample
        fields = list(ROW_FIELDS)  # what a page of samples loads


def sample_data(sample: Sample, field_order: Sequence[str] = ()) -> dict[str, Any]:
    """SampleOutput's fields without its per-field machinery: a page of 500 samples is
    serialised several times faster this way (the schema still comes from SampleOutput).
    A custom payload's fields come in the dataset's `field_order`."""
    payload = sample.payload
    if field_order and isinstance(payload, dict):
        payload = dict(selectors.in_field_order(payload, field_order))
    return {
        "id": sample.pk,
        "dataset": sample.dataset_id,
        "version": sample.version,
        "run": sample.run_id,
        "index": sample.index,
        "payload": payload,
        "text": sample.text,
        "labels": sample.labels,
        "lineage": sample.lineage,
        "review_state": sample.review_state,
        "created_at": sample.created_at,
    }


class SamplePageOutput(serializers.Serializer):
    results = SampleOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True)


class DatasetListApi(ProjectAPIView):
    @extend_schema(responses=DatasetOutput(many=True))
    def get(self, request: Request) -> Response:
        project = self.membership.project
        context = {"sizes": selectors.dataset_sizes(project)}
        datasets = selectors.dataset_list(project)
        return Response(DatasetOutput(datasets, many=True, context=context).data)


class DatasetDetailApi(ProjectAPIView):
    @extend_schema(responses=DatasetDetailOutput)
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(self.membership.project, dataset_id)
        services.open_versions_close(dataset=dataset)
        versions = selectors.dataset_versions(dataset)
        dataset.version_infos = versions  # type: ignore[attr-defined]
        dataset.label_counts = [  # type: ignore[attr-defined]
            {"label": label, "count": n} for label, n in selectors.label_distribution(dataset)
        ]
        sizes = {dataset.pk: versions[0].total if versions else 0}
        return Response(DatasetDetailOutput(dataset, context={"sizes": sizes}).data)


class SampleListApi(ProjectAPIView):
    class Input(serializers.Serializer):
        version = serializers.IntegerField(min_value=1, required=False)
        label = serializers.CharField(max_length=200, required=False)  # type: ignore[assignment]
        run = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT, required=False)
        review_state = serializers.ChoiceField(choices=ReviewState.choices, required=False)
        q = serializers.CharField(max_length=200, required=False)
        cursor = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT, required=False)
        limit = serializers.IntegerField(
            min_value=1, max_value=selectors.MAX_PAGE, required=False, default=50
        )

    @extend_schema(parameters=[Input], responses=SamplePageOutput)
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(self.membership.project, dataset_id)
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = params.validated_data
        services.export_version_check(dataset=dataset, version=data.get("version"))
        samples, next_cursor = selectors.sample_page(
            dataset,
            version=data.get("version"),
            label=data.get("label"),
            run_id=data.get("run"),
            review_state=data.get("review_state"),
            q=data.get("q"),
            after_id=data.get("cursor"),
            limit=data["limit"],
        )
        order = selectors.field_order(dataset)
        next_url = None
        if next_cursor is not None:
            query = request.query_params.copy()
            query["cursor"] = str(next_cursor)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "results": [sample_data(sample, order) for sample in samples],
                "next_cursor": str(next_cursor) if next_cursor is not None else None,
                "next": next_url,
            }
        )


class SampleDetailApi(ProjectAPIView):
    @extend_schema_serializer(component_name="SamplePatchInput")
    class Input(serializers.Serializer):
        review_state = serializers.ChoiceField(choices=services.REVIEWABLE, required=False)
        payload = JSONField(required=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if ("review_state" in attrs) == ("payload" in attrs):
                raise serializers.ValidationError(
                    {"review_state": "Send either review_state or payload."}
                )
            return attrs

    @extend_schema(responses=SampleOutput)
    def get(self, request: Request, sample_id: int) -> Response:
        return Response(SampleOutput(selectors.sample_get(self.membership.project, sample_id)).data)

    @extend_schema(request=Input, responses=SampleOutput)
    def patch(self, request: Request, sample_id: int) -> Response:
        sample = selectors.sample_get(self.membership.project, sample_id)
        services.require_editor(self.membership)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "payload" in data:
            sample = services.sample_edit(
                membership=self.membership, sample=sample, payload=data["payload"]
            )
        else:
            sample = services.sample_review(
                membership=self.membership, sample=sample, state=data["review_state"]
            )
        return Response(SampleOutput(sample).data)


class DatasetImportApi(ProjectAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="DatasetImportInput")
    class Input(serializers.Serializer):
        file = serializers.FileField(
            help_text=f"{importing.FILE_TYPES}; at most 50 MB and 200,000 rows."
        )
        name = serializers.CharField(max_length=120, help_text="New or existing dataset.")
        task_type = serializers.ChoiceField(
            choices=TaskType.choices,
            required=False,
            allow_blank=True,
            help_text="Required for a new dataset; must match an existing one.",
        )

    @extend_schema_serializer(component_name="DatasetImportOutput")
    class Output(serializers.Serializer):
        dataset_id = serializers.IntegerField(source="dataset.pk")
        dataset = serializers.CharField(source="dataset.name")
        version = serializers.IntegerField(source="version.number")
        rows = serializers.IntegerField()
        inserted = serializers.IntegerField()
        duplicates = serializers.IntegerField()

    @extend_schema(request={"multipart/form-data": Input}, responses={201: Output})
    def post(self, request: Request) -> Response:
        services.require_editor(self.membership)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > importing.MAX_IMPORT_BYTES:
            return Response({"file": ["The file is larger than 50 MB."]}, status=400)
        result = services.dataset_import(
            membership=self.membership,
            name=serializer.validated_data["name"],
            task_type=serializer.validated_data.get("task_type", ""),
            file_name=upload.name,
            content=upload.read(),
        )
        return Response(self.Output(result).data, status=status.HTTP_201_CREATED)


class ExportJobOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "dataset",
            "version",
            "format",
            "skip_rejected",
            "status",
            "rows",
            "size",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != "SUCCEEDED":
            return None
        url = reverse("api_export_download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportJobCreateApi(ProjectAPIView):
    @extend_schema_serializer(component_name="ExportJobInput")
    class Input(serializers.Serializer):
        format = serializers.ChoiceField(choices=ExportFormat.choices)
        version = serializers.IntegerField(min_value=1, required=False)
        skip_rejected = serializers.BooleanField(
            default=False, help_text="Leave out the samples a reviewer rejected."
        )

    @extend_schema(request=Input, responses={202: ExportJobOutput})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(self.membership.project, dataset_id)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.export_job_create(
            membership=self.membership,
            dataset=dataset,
            version=serializer.validated_data.get("version"),
            fmt=serializer.validated_data["format"],
            skip_rejected=serializer.validated_data["skip_rejected"],
        )
        data = ExportJobOutput(job, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class ExportJobDetailApi(ProjectAPIView):
    @extend_schema(responses=ExportJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.export_job_get(self.membership.project, job_id)
        return Response(ExportJobOutput(job, context={"request": request}).data)


class ExportJobDownloadApi(ProjectAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, job_id: int) -> HttpResponseBase:
        return export_file_response(selectors.export_job_get(self.membership.project, job_id))


class DatasetExportStreamApi(ProjectAPIView):
    """A version as JSONL or CSV, streamed (up to 50,000 samples; larger ones use a job)."""

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # `?format=jsonl` names the file format here, not one of DRF's renderers.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("format", enum=["jsonl", "csv"], default="jsonl"),
            OpenApiParameter("version", int, description="Default: the latest version."),
            OpenApiParameter(
                "skip_rejected", bool, description="Leave out rejected samples (default false)."
            ),
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="Bad format or version, or too big to stream."),
        },
    )
    def get(self, request: Request, dataset_id: int) -> HttpResponseBase:
        dataset = selectors.dataset_get(self.membership.project, dataset_id)
        fmt = request.query_params.get("format", ExportFormat.JSONL)
        try:
            # 0 is a number: the service says which versions there are.
            version = query_int(request.query_params, "version")
        except InputError as exc:
            return Response(exc.as_dict(), status=400)
        skip = request.query_params.get("skip_rejected", "false").lower()
        if skip not in ("true", "false", "1", "0"):
            return Response({"skip_rejected": ["skip_rejected must be true or false."]}, status=400)
        number = services.export_stream_check(dataset=dataset, version=version, fmt=fmt)
        return export_response(request, dataset, number, fmt, skip_rejected=skip in ("true", "1"))
