"""Inference history API (Pioneer's paths): list, detail, feedback.

    GET  /inferences?limit=&offset=&model_id=&task=&project_id=&training_job_id=
    GET  /inferences/<id>
    POST /inferences/<id>/feedback  {"verdict": "correct"}
                                    {"verdict": "incorrect", "corrected_output": {...}}

The caller's API key decides the project. `project_id`, when given, must be that
project: any other value answers 404 (it is not the caller's to see). Rows of other
projects answer 404 too. The gateway writes rows a few milliseconds after it answers, so
a row whose id was just handed out is waited for briefly rather than reported missing.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.inputs import MAX_BIGINT
from apps.core.models import ApiKey
from apps.core.parsers import JSONField
from apps.core.schema import PageSchema
from apps.core.services import require_editor

from . import selectors, services
from .forms import TASK_NAMES
from .models import Inference, Verdict


class InferenceOutput(serializers.ModelSerializer):
    provider = serializers.CharField(source="provider.name", default=None, allow_null=True)
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Inference
        fields = [
            "id",
            "model_id",
            "provider",
            "upstream_model",
            "protocol",
            "task",
            "request",
            "input_text",
            "output",
            "output_text",
            "streamed",
            "status",
            "error",
            "http_status",
            "latency_ms",
            "usage",
            "training_job_id",
            "verdict",
            "corrected_output",
            "created_at",
        ]

    def get_usage(self, obj: Inference) -> dict[str, int]:
        return {
            "input_tokens": obj.input_tokens,
            "output_tokens": obj.output_tokens,
            "total_tokens": obj.input_tokens + obj.output_tokens,
        }


class InferencePageOutput(serializers.Serializer):
    results = InferenceOutput(many=True)
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField(help_text="Older rows follow (next offset).")


class HistoryFilterInput(serializers.Serializer):
    """The history's filters, shared by the list and promotion (apis_promote.py)."""

    model_id = serializers.CharField(required=False, max_length=320)
    task = serializers.ChoiceField(list(TASK_NAMES), required=False)
    project_id = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT, required=False)
    training_job_id = serializers.CharField(required=False, max_length=200)
    verdict = serializers.ChoiceField([*Verdict.values, "none"], required=False)


def history_filters(data: dict[str, Any], *, project: Any) -> dict[str, Any]:
    """Validated HistoryFilterInput data (other keys pass through) as `inference_list`
    keywords. A `project_id` other than the caller's answers 404: not theirs to see."""
    data = dict(data)
    if data.pop("project_id", project.pk) != project.pk:
        raise Http404("No such project.")
    if "verdict" in data:
        # "none" is "no feedback yet", which the selector spells verdict="".
        data["verdict"] = "" if data["verdict"] == "none" else data["verdict"]
    return data


class ListFilters(HistoryFilterInput):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_BIGINT, default=0)
    status = serializers.ChoiceField(["ok", "error"], required=False)


class FeedbackInput(serializers.Serializer):
    verdict = serializers.ChoiceField(Verdict.values)
    corrected_output = JSONField(required=False, allow_null=True)


def _maybe_pending(inference_id: int) -> bool:
    """Handed out by the gateway (the sequence is past it) but not written yet."""
    if Inference.objects.filter(pk=inference_id).exists():
        return False  # it exists: in another project
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_value FROM pg_sequences "
            "WHERE schemaname || '.' || sequencename = pg_get_serial_sequence(%s, 'id')",
            [Inference._meta.db_table],
        )
        row = cursor.fetchone()
    return bool(row and row[0] is not None and inference_id <= row[0])


def inference_visible(*, project: Any, inference_id: int) -> Inference:
    deadline = time.monotonic() + settings.INFERENCE_PENDING_WAIT_SECONDS
    while True:
        try:
            return selectors.inference_get(project=project, inference_id=inference_id)
        except Http404:
            if time.monotonic() > deadline or not _maybe_pending(inference_id):
                raise
            time.sleep(0.05)


class InferenceListApi(ProjectAPIView):
    schema = PageSchema()

    @extend_schema(
        parameters=[ListFilters],
        responses=InferencePageOutput,
        summary="Inference history, newest first",
    )
    def get(self, request: Request) -> Response:
        filters = ListFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = history_filters(filters.validated_data, project=self.membership.project)
        limit, offset = data.pop("limit"), data.pop("offset")
        rows = selectors.inference_list(
            project=self.membership.project, limit=limit + 1, offset=offset, **data
        )
        return Response(
            {
                "results": InferenceOutput(rows[:limit], many=True).data,
                "limit": limit,
                "offset": offset,
                "has_more": len(rows) > limit,
            }
        )


class InferenceDetailApi(ProjectAPIView):
    @extend_schema(responses=InferenceOutput, summary="One inference")
    def get(self, request: Request, inference_id: int) -> Response:
        row = inference_visible(project=self.membership.project, inference_id=inference_id)
        return Response(InferenceOutput(row).data)


class InferenceFeedbackApi(ProjectAPIView):
    @extend_schema(
        request=FeedbackInput,
        responses={201: InferenceOutput},
        summary="Mark an inference correct, or incorrect with its correction",
        parameters=[OpenApiParameter("inference_id", int, OpenApiParameter.PATH)],
    )
    def post(self, request: Request, inference_id: int) -> Response:
        membership = self.membership
        row = inference_visible(project=membership.project, inference_id=inference_id)
        require_editor(membership)
        payload = FeedbackInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        feedback = services.inference_feedback(
            project=membership.project,
            inference=row,
            verdict=data["verdict"],
            corrected_output=data.get("corrected_output"),
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
        )
        body = InferenceOutput(row).data
        body["feedback_id"] = feedback.pk
        return Response(body, status=status.HTTP_201_CREATED)
