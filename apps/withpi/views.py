"""withpi's JSON job endpoints (the streams are in streams.py)."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.services import require_editor
from apps.core.throttle import generate_throttle
from apps.runs.compat import request_user
from apps.runs.models import Run

from . import selectors, services
from .inputs import (
    BAD_INPUT,
    DataGenerateInput,
    JobListInput,
    PairsGenerateInput,
    invalid_response,
)
from .kinds import INPUTS, PAIRS, STATUS_OF_STATE, JobKind

TAG = "withpi-compatible"


class DataGenerationStatus(serializers.Serializer):
    job_id = serializers.CharField()
    state = serializers.ChoiceField(list(STATUS_OF_STATE))
    detailed_status = serializers.ListField(child=serializers.CharField())
    data = serializers.ListField(  # type: ignore[assignment]  # withpi's name
        allow_null=True, help_text="The items generated so far."
    )


def _not_found(job_id: str) -> Response:
    return Response({"detail": f"No job {job_id!r}."}, status=status.HTTP_404_NOT_FOUND)


class _KindApi(ProjectAPIView):
    kind: JobKind = INPUTS

    def find(self, job_id: str) -> Run | None:
        project_id = self.membership.project_id
        return selectors.job_find(project_id=project_id, kind=self.kind, job_id=job_id)


class _StartApi(_KindApi):
    input_class: type[serializers.Serializer] = DataGenerateInput
    start = staticmethod(services.inputs_job_start)

    def get(self, request: Request) -> Response:
        query = JobListInput(data=request.query_params)
        if not query.is_valid():
            return invalid_response(query.errors, where="query")
        state = query.validated_data.get("state", "")
        runs = selectors.job_page(
            project_id=self.membership.project_id,
            kind=self.kind,
            status=STATUS_OF_STATE.get(state, ""),
        )
        return Response([selectors.job_status(r, self.kind, with_data=False) for r in runs])

    def post(self, request: Request) -> Response:
        if limited := generate_throttle(request):
            return limited
        require_editor(self.membership)
        body = self.input_class(data=request.data)
        if not body.is_valid():
            return invalid_response(body.errors)
        run = self.start(
            membership=self.membership, user=request_user(request), params=body.validated_data
        )
        return Response(selectors.job_status(run, self.kind, with_data=False))


class _JobApi(_KindApi):
    def get(self, request: Request, job_id: str) -> Response:
        run = self.find(job_id)
        if run is None:
            return _not_found(job_id)
        return Response(selectors.job_status(run, self.kind))

    def delete(self, request: Request, job_id: str) -> Any:
        run = self.find(job_id)
        if run is None:
            return _not_found(job_id)
        message = services.job_cancel(membership=self.membership, run=run)
        return HttpResponse(message, content_type="text/plain; charset=utf-8")


@extend_schema(tags=[TAG])
class InputsJobsApi(_StartApi):
    @extend_schema(responses=DataGenerationStatus(many=True))
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(request=DataGenerateInput, responses={200: DataGenerationStatus, 400: BAD_INPUT})
    def post(self, request: Request) -> Response:
        return super().post(request)


@extend_schema(tags=[TAG])
class InputsJobApi(_JobApi):
    @extend_schema(responses=DataGenerationStatus)
    def get(self, request: Request, job_id: str) -> Response:
        return super().get(request, job_id)

    @extend_schema(responses={200: str})
    def delete(self, request: Request, job_id: str) -> Any:
        return super().delete(request, job_id)


@extend_schema(tags=[TAG])
class PairsJobsApi(InputsJobsApi):
    kind = PAIRS
    input_class = PairsGenerateInput
    start = staticmethod(services.pairs_job_start)

    @extend_schema(
        request=PairsGenerateInput, responses={200: DataGenerationStatus, 400: BAD_INPUT}
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


@extend_schema(tags=[TAG])
class PairsJobApi(InputsJobApi):
    kind = PAIRS
