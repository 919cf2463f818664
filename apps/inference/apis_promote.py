"""Promotion over the API: the history page's Promote button without a browser.

    POST /api/v1/inferences/promote/  {"dataset_name": "reviewed", "task": "extract", ...}

The body takes the history list's filters (validated the same way) and the dataset to
write; `apps.inference.promote.inferences_promote` does the work, as for the page.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.schema import ErrorOutput
from apps.core.services import require_editor
from apps.datasets.services import MAX_DATASET_NAME

from .apis import HistoryFilterInput, history_filters
from .promote import inferences_promote


class PromoteInput(HistoryFilterInput):
    dataset_name = serializers.CharField(
        max_length=MAX_DATASET_NAME,
        help_text="A new dataset, or an existing one of the same task type (gets version n+1).",
    )


class PromoteOutput(serializers.Serializer):
    dataset_id = serializers.IntegerField()
    dataset_name = serializers.CharField(source="dataset.name")
    version = serializers.IntegerField(source="number", help_text="The version just made.")
    added = serializers.IntegerField(
        source="added_count", help_text="Samples it added: one per promoted call."
    )


class InferencePromoteApi(ProjectAPIView):
    @extend_schema(
        request=PromoteInput,
        responses={
            201: PromoteOutput,
            404: OpenApiResponse(ErrorOutput, "`project_id` is not the key's project."),
        },
        summary="Promote confirmed and corrected inferences into a dataset version",
        description=(
            "Calls marked correct (their output) and corrected calls (their correction) "
            "matching the filters become a new version of `dataset_name`; each sample's "
            "lineage names its inference. `verdict` narrows to one verdict (`none` matches "
            "nothing promotable). Nothing to promote, a task-type clash or mixed tasks "
            "answer 400 naming the field."
        ),
    )
    def post(self, request: Request) -> Response:
        membership = self.membership
        require_editor(membership)
        payload = PromoteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        filters = history_filters(payload.validated_data, project=membership.project)
        version = inferences_promote(
            membership=membership,
            user=request.user,
            dataset_name=filters.pop("dataset_name"),
            **filters,
        )
        return Response(PromoteOutput(version).data, status=status.HTTP_201_CREATED)
