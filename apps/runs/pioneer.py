"""Pioneer-compatible generation API: `POST /generate`, `GET /generate/jobs/<job_id>`.

A request becomes a spec version (new spec `pioneer-<dataset>`, or a new version of it)
checked on the spot, and a run into the named dataset (an existing name gets a new
version). Job ids are run ids.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import selectors as core_selectors
from apps.core.api import ProjectAPIView
from apps.core.inputs import is_id
from apps.core.schema import RATE_LIMITED
from apps.core.services import require_editor
from apps.core.throttle import generate_throttle
from apps.datasets.models import Sample
from apps.specs.models import TaskType

from . import selectors, services
from .compat import compat_spec_version, request_user
from .models import Run, RunOrigin, RunStatus

PIONEER_STATUS = {
    RunStatus.QUEUED: "queued",
    RunStatus.RUNNING: "running",
    RunStatus.SUCCEEDED: "complete",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "failed",
}


class GenerateInput(serializers.Serializer):
    task_type = serializers.ChoiceField([TaskType.NER, TaskType.CLASSIFICATION, TaskType.DECODER])
    dataset_name = serializers.CharField(max_length=120)
    num_examples = serializers.IntegerField(min_value=1, max_value=20_000)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=200
    )
    domain_description = serializers.CharField(max_length=20_000)
    examples = serializers.ListField(child=serializers.DictField(), required=False, max_length=1000)
    prompt = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    multi_label = serializers.BooleanField(required=False, default=False)
    provider = serializers.CharField(required=False, max_length=60)
    model = serializers.CharField(required=False, max_length=200)
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=10)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["task_type"] in (TaskType.NER, TaskType.CLASSIFICATION) and not data.get("labels"):
            raise serializers.ValidationError(
                {"labels": f"labels are required for {data['task_type']} (1 to 200)."}
            )
        return data


# Pioneer's decoder examples say `input` and `output`; Seedbed's seeds say `instruction`
# and `response`.
DECODER_NAMES = {"input": "instruction", "output": "response"}
# A spec check's message → the request field it is about (by its first word).
CHECKED_FIELDS = {"Description": "domain_description", "Labels": "labels"}


def _seed(task_type: str, example: dict[str, Any]) -> dict[str, Any]:
    if task_type != TaskType.DECODER:
        return example
    renamed = {
        ours: example[theirs]
        for theirs, ours in DECODER_NAMES.items()
        if theirs in example and ours not in example
    }
    kept = {key: value for key, value in example.items() if DECODER_NAMES.get(key) not in renamed}
    return {**kept, **renamed}


def _errors_by_field(problems: list[str]) -> dict[str, list[str]]:
    """The spec check's messages under the fields of the request they are about."""
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        field = CHECKED_FIELDS.get(problem.split(" ", 1)[0].rstrip(":"), "examples")
        by_field.setdefault(field, []).append(problem)
    return by_field


class GenerateAccepted(serializers.Serializer):
    job_id = serializers.CharField(help_text="Poll GET /generate/jobs/<job_id>.")
    status = serializers.CharField(help_text="`queued`.")
    dataset_name = serializers.CharField()


class GenerateJobOutput(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.ChoiceField(["queued", "running", "complete", "failed"])
    dataset_name = serializers.CharField()
    dataset_version = serializers.IntegerField(
        allow_null=True, help_text="null when a failed job kept no sample."
    )
    num_examples = serializers.IntegerField(help_text="How many were asked for.")
    examples_generated = serializers.IntegerField()
    detailed_status = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    examples = serializers.ListField(
        child=serializers.DictField(), help_text="The first `limit` examples, in order."
    )


class GenerateJobInput(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, default=100, min_value=0, max_value=1000, help_text="Examples to return."
    )


class GenerateApi(ProjectAPIView):
    @extend_schema(request=GenerateInput, responses={202: GenerateAccepted, 429: RATE_LIMITED})
    def post(self, request: Request) -> Response:
        if limited := generate_throttle(request):
            return limited
        require_editor(self.membership)
        data = GenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        project = self.membership.project
        model, named = params.get("model", ""), params.get("provider")
        provider = (
            core_selectors.provider_list(project=project).filter(name=named).first()
            if named
            else core_selectors.provider_for_model(project=project, model_id=model)
        )
        if provider is None:
            raise ValidationError({"provider": f"No provider {named or 'embedded'!r}."})
        content = {
            "description": params["domain_description"],
            "instruction": params.get("prompt", ""),
            "labels": params.get("labels", []),
            "multi_label": params["multi_label"],
            "seeds": [_seed(params["task_type"], e) for e in params.get("examples", [])],
        }
        with transaction.atomic():
            version = compat_spec_version(
                membership=self.membership,
                user=request_user(request),
                name=f"pioneer-{params['dataset_name']}-{params['task_type']}",
                task_type=params["task_type"],
                content=content,
                errors_by_field=_errors_by_field,
            )
            run = services.run_create(
                membership=self.membership,
                spec_version=version,
                provider=provider,
                model=model,
                dataset_name=params["dataset_name"],
                num_samples=params["num_examples"],
                batch_size=params.get("batch_size", 5),
                user=request.user,
                origin=RunOrigin.PIONEER,
            )
        return Response(
            {"job_id": str(run.pk), "status": "queued", "dataset_name": run.dataset.name},
            status=status.HTTP_202_ACCEPTED,
        )


class GenerateJobApi(ProjectAPIView):
    @extend_schema(
        responses=GenerateJobOutput,
        parameters=[OpenApiParameter("limit", int, description="0 to 1,000; default 100.")],
    )
    def get(self, request: Request, job_id: str) -> Response:
        if not is_id(job_id):
            return Response({"detail": "No such job."}, status=status.HTTP_404_NOT_FOUND)
        run: Run = selectors.run_get(project=self.membership.project, run_id=int(job_id))
        query = GenerateJobInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        examples = list(
            Sample.objects.filter(run=run)
            .order_by("index")
            .values_list("payload", flat=True)[:limit]
        )
        return Response(
            {
                "job_id": str(run.pk),
                "status": PIONEER_STATUS[RunStatus(run.status)],
                "dataset_name": run.dataset.name,
                "dataset_version": run.dataset_version,
                "num_examples": run.num_samples,
                "examples_generated": run.accepted,
                "detailed_status": selectors.run_progress(run).lines,
                "error": run.error or None,
                "created_at": run.created_at,
                "completed_at": run.finished_at,
                "examples": examples,
            }
        )
