"""Labelling jobs over the API: many texts labelled in the background into a dataset version.

    POST /api/v1/labelling-jobs/
        {"task": "ner", "labels": ["person", "city"], "texts": ["Ada lives in Paris.", …],
         "dataset_name": "people", "model_id": "embedded/smollm2-135m-instruct",
         "multi_label": false, "threshold": 0.5}
    → 202 {"id", "status": "QUEUED", "task", "total", "done", "failed", "added",
           "dataset_name", "dataset_id", "dataset_version", "error", "created_at",
           "finished_at", "url", "samples_url", …}
    GET  /api/v1/labelling-jobs/?limit=20&before=<job id>   the project's jobs, newest first
    GET  /api/v1/labelling-jobs/<id>/                       poll until `finished_at` is set
    POST /api/v1/labelling-jobs/<id>/cancel/                → 202; stops after the chunk in flight

The synchronous label-existing endpoints answer 1 to 1,000 texts in one request; a job
takes up to 10,000 and labels them in chunks of 50, as the "Label a file" page does (the
same services: labelling_jobs.py). Each labelled text becomes a sample of a new version
of `dataset_name` (created if new; an existing one must hold the same task), and
`samples_url` lists them.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.services import require_editor

from . import labelling, labelling_jobs, selectors
from .apis_labelling import LabelExistingInput, Strings
from .models import LabellingJob


class LabellingJobInput(LabelExistingInput):
    # Types only, as for label-existing: labelling_job_create checks the limits and its
    # errors name the field (`texts`, `labels`, `task`, `dataset_name`, `model_id`).
    task = serializers.ChoiceField(choices=list(labelling.TASKS))
    texts = Strings(
        help_text=f"1 to {labelling_jobs.MAX_FILE_TEXTS:,} non-empty strings of at most "
        f"{labelling.MAX_TEXT_CHARS:,} characters (and the request body's size limit)."
    )
    dataset_name = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="1 to 120 characters: a new dataset, or an existing one of the same task.",
    )


class LabellingJobOutput(serializers.ModelSerializer):
    dataset_id = serializers.IntegerField(allow_null=True, read_only=True)
    url = serializers.SerializerMethodField(help_text="This job: poll it.")
    samples_url = serializers.SerializerMethodField(
        help_text="The samples of the job's dataset version (null if it added none)."
    )

    class Meta:
        model = LabellingJob
        fields = [
            "id",
            "status",
            "task",
            "labels",
            "multi_label",
            "model_id",
            "threshold",
            "total",
            "done",
            "failed",
            "added",
            "input_tokens",
            "output_tokens",
            "cancel_requested",
            "dataset_name",
            "dataset_id",
            "dataset_version",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "url",
            "samples_url",
        ]

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    def get_url(self, job: LabellingJob) -> str:
        return self._absolute(reverse("api_labelling_job_detail", args=[job.pk]))

    def get_samples_url(self, job: LabellingJob) -> str | None:
        if not (job.dataset_id and job.dataset_version):
            return None
        url = reverse("api_sample_list", args=[job.dataset_id])
        return self._absolute(f"{url}?version={job.dataset_version}")


def _output(request: Request, job: LabellingJob) -> dict[str, Any]:
    return LabellingJobOutput(job, context={"request": request}).data  # type: ignore[no-any-return]


class LabellingJobListApi(ProjectAPIView):
    @extend_schema_serializer(component_name="LabellingJobListInput")
    class Input(serializers.Serializer):
        limit = serializers.IntegerField(
            min_value=1, max_value=selectors.MAX_JOBS_PAGE, default=20, help_text="Default 20."
        )
        before = serializers.IntegerField(
            min_value=1, required=False, help_text="A job id: only older jobs (paging)."
        )

    @extend_schema(parameters=[Input], responses=LabellingJobOutput(many=True))
    def get(self, request: Request) -> Response:
        """The project's labelling jobs, newest first."""
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        jobs = selectors.labelling_job_list(
            project=self.membership.project,
            before=params.validated_data.get("before"),
            limit=params.validated_data["limit"],
        )
        return Response(LabellingJobOutput(jobs, many=True, context={"request": request}).data)

    @extend_schema(
        request=LabellingJobInput,
        responses={
            202: OpenApiResponse(LabellingJobOutput, "Queued; poll `url` until it finishes.")
        },
    )
    def post(self, request: Request) -> Response:
        """Label 1 to 10,000 texts in the background into a new version of `dataset_name`:
        the way to label more texts than label-existing takes, or without holding a request."""
        require_editor(self.membership)
        data = LabellingJobInput(data=request.data)
        data.is_valid(raise_exception=True)
        params: dict[str, Any] = data.validated_data
        job = labelling_jobs.labelling_job_create(
            membership=self.membership,
            task=params["task"],
            labels=params["labels"],
            texts=params["texts"],
            dataset_name=params["dataset_name"],
            model_id=params.get("model_id") or "",
            multi_label=params["multi_label"],
            threshold=params["threshold"],
            user=request.user,
        )
        body = _output(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class LabellingJobDetailApi(ProjectAPIView):
    @extend_schema(responses=LabellingJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        """A labelling job's progress; finished when `finished_at` is set."""
        job = selectors.labelling_job_get(project=self.membership.project, job_id=job_id)
        return Response(_output(request, job))


class LabellingJobCancelApi(ProjectAPIView):
    @extend_schema(request=None, responses={202: LabellingJobOutput})
    def post(self, request: Request, job_id: int) -> Response:
        """Stop after the chunk in flight (a queued job stops at once); the samples
        committed so far stay in the dataset version. A finished job is left as it is."""
        job = selectors.labelling_job_get(project=self.membership.project, job_id=job_id)
        job = labelling_jobs.labelling_job_cancel(membership=self.membership, job=job)
        return Response(_output(request, job), status=status.HTTP_202_ACCEPTED)
