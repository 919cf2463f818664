"""Runs and their files: `/api/dataframer/runs/...`."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.schema import ErrorOutput
from apps.runs.models import RunStatus
from apps.runs.services import MAX_SAMPLES

from . import archives, run_services, selectors
from .errors import conflict, not_found
from .files import archive_url, generated_file, generated_files, run_file_url
from .presenters import run_json, run_summary_json
from .schemas import TAG, ArchiveOut, DownloadOut, RunListItemOut, RunOut


def _names() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10
    )


def _budget() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True)


def _model() -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, max_length=200)


class RunCreateInput(serializers.Serializer):
    spec_id = serializers.CharField(max_length=64)
    number_of_samples = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES)
    spec_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    generation_model = _model()
    outline_model = _model()
    revision_model = _model()
    generation_thinking_budget = _budget()
    outline_thinking_budget = _budget()
    revision_thinking_budget = _budget()
    revision_types = _names()
    filtering_types = _names()
    enable_revisions = serializers.BooleanField(required=False, allow_null=True, default=None)
    max_revision_cycles = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5
    )
    seed_shuffling_level = serializers.CharField(required=False, allow_null=True, max_length=20)
    max_examples_in_prompt = serializers.IntegerField(required=False, allow_null=True)
    unified_multifield = serializers.BooleanField(required=False, allow_null=True, default=None)
    skip_outline = serializers.BooleanField(required=False, allow_null=True, default=None)
    tools = _names()


class RunListApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG], operation_id="dataframer_runs_list", responses=RunListItemOut(many=True)
    )
    def get(self, request: Request) -> Response:
        runs = selectors.dataframer_run_list(project=self.membership.project)
        return Response([run_summary_json(r) for r in runs])

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_runs_create",
        request=RunCreateInput,
        responses={201: RunOut},
    )
    def post(self, request: Request) -> Response:
        data = RunCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        project = self.membership.project
        spec = selectors.generated_spec_get(project=project, spec_id=params["spec_id"])
        created = run_services.dataframer_run_create(
            membership=self.membership, spec=spec, params=params
        )
        return Response(run_json(created, []), status=status.HTTP_201_CREATED)


class RunDetailApi(ProjectAPIView):
    @extend_schema(tags=[TAG], operation_id="dataframer_runs_retrieve", responses=RunOut)
    def get(self, request: Request, run_id: str) -> Response:
        found = selectors.dataframer_run_get(project=self.membership.project, run_id=run_id)
        done = found.run.status == RunStatus.SUCCEEDED
        files = [f.as_json() for f in generated_files(found)] if done else []
        return Response(run_json(found, files))

    @extend_schema(
        tags=[TAG], operation_id="dataframer_runs_delete", responses={204: None, 409: ErrorOutput}
    )
    def delete(self, request: Request, run_id: str) -> Response:
        found = selectors.dataframer_run_get(project=self.membership.project, run_id=run_id)
        run_services.dataframer_run_delete(membership=self.membership, dataframer_run=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunCancelApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_runs_cancel",
        request=None,
        responses={204: None, 409: ErrorOutput},
    )
    def post(self, request: Request, run_id: str) -> Response:
        found = selectors.dataframer_run_get(project=self.membership.project, run_id=run_id)
        run_services.dataframer_run_cancel(membership=self.membership, dataframer_run=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunFileApi(ProjectAPIView):
    @extend_schema(tags=[TAG], operation_id="dataframer_runs_files_download", responses=DownloadOut)
    def get(self, request: Request, run_id: str, file_id: str) -> Response:
        found = selectors.dataframer_run_get(project=self.membership.project, run_id=run_id)
        file = generated_file(found, file_id)
        if file is None:
            raise not_found("file")
        return Response(
            {
                "download_url": run_file_url(request, found, file.id),
                "filename": file.path.rsplit("/", 1)[-1],
                "content_type": file.file_type,
            }
        )


class RunArchiveApi(ProjectAPIView):
    """202 while the ZIP is written on the workers, then 200 with its URL."""

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_runs_files_download_all",
        responses={200: ArchiveOut, 202: ArchiveOut, 409: ErrorOutput},
    )
    def get(self, request: Request, run_id: str) -> Response:
        found = selectors.dataframer_run_get(project=self.membership.project, run_id=run_id)
        if found.run.status != RunStatus.SUCCEEDED:
            raise conflict("The run has no files to download until it has SUCCEEDED.")
        archive = archives.archive_request(membership=self.membership, dataframer_run=found)
        if archive.status != RunStatus.SUCCEEDED:
            preparing = {"status": "PREPARING", "download_url": None, "size_bytes": None}
            return Response(preparing, status=status.HTTP_202_ACCEPTED)
        return Response(
            {"download_url": archive_url(request, found), "size_bytes": archive.size_bytes}
        )
