"""REST API for runs."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import selectors as core_selectors
from apps.core.api import ProjectAPIView
from apps.core.options import options_of, output_fields, serializer_fields
from apps.core.services import require_editor
from apps.specs.models import SpecVersion

from . import selectors, services
from .engines.local_settings import LocalSettings
from .estimate import estimate_data
from .forms import MAX_RUNS_PAGE, RunFilters
from .models import Run


class RangeOutput(serializers.Serializer):
    low = serializers.IntegerField()
    high = serializers.IntegerField()


class CostRangeOutput(serializers.Serializer):
    low = serializers.DecimalField(max_digits=14, decimal_places=4)
    high = serializers.DecimalField(max_digits=14, decimal_places=4)


class StageEstimateOutput(serializers.Serializer):
    stage = serializers.CharField()
    model = serializers.CharField(help_text="provider/model of the stage's role.")
    calls = RangeOutput()
    input_tokens = RangeOutput()
    output_tokens = RangeOutput()
    cost_usd = CostRangeOutput(allow_null=True, help_text="null: the model has no price.")


class EstimateOutput(serializers.Serializer):
    """What `POST /api/v1/runs/?dry_run=true` answers (apps/runs/estimate.py)."""

    num_samples = serializers.IntegerField()
    calls = RangeOutput()
    input_tokens = RangeOutput()
    output_tokens = RangeOutput()
    cost_usd = CostRangeOutput(
        allow_null=True, help_text="null while any stage's model has no price."
    )
    unpriced_models = serializers.ListField(child=serializers.CharField())
    seconds = RangeOutput()
    stages = StageEstimateOutput(many=True)
    basis = serializers.CharField(help_text="Earlier runs of the spec, or the settings alone.")
    assumptions = serializers.ListField(child=serializers.CharField())


class RunOutputBase(serializers.ModelSerializer):
    spec_id = serializers.IntegerField(source="spec_version.spec_id")
    spec_version = serializers.IntegerField(source="spec_version.number")
    provider = serializers.CharField(source="provider.name", allow_null=True)
    dataset_name = serializers.CharField(source="dataset.name")
    detailed_status = serializers.SerializerMethodField()
    usage_by_stage = serializers.JSONField(
        read_only=True,
        help_text="Per stage (plan, outline, draft, judge, revision): `calls`, `failed`, "
        "`input_tokens`, `output_tokens`, `thinking_tokens` (included in the output tokens), "
        "`latency_ms` (summed over the calls), `models` (the model names that served it) and "
        "`cost` in USD as a decimal string, or null when a model of the stage has no price "
        "set on its provider (an unknown cost, never 0). Rejected work is included.",
    )
    total_cost = serializers.SerializerMethodField(
        help_text="The run's cost so far in USD as a decimal string; null when any stage's "
        "cost is unknown (a model without a price) or no usage was recorded."
    )
    cost_per_accepted_sample = serializers.SerializerMethodField(
        help_text="total_cost divided by the accepted samples, as a decimal string; null "
        "while nothing is accepted or any stage's cost is unknown."
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "origin",
            "spec_id",
            "spec_version",
            "provider",
            "model",
            "dataset_name",
            "dataset_version",
            "num_samples",
            "multiplier",
            "call_budget",
            "accepted",
            "rejected",
            "duplicates",
            "calls",
            "failed_calls",
            "retries",
            "input_tokens",
            "output_tokens",
            "rejected_by_reason",
            "label_counts",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "wait_until",
            "detailed_status",
            "usage_by_stage",
            "total_cost",
            "cost_per_accepted_sample",
        ]
        extra_kwargs = {
            "wait_until": {"help_text": "Set while the run waits for its provider's Retry-After."}
        }

    def get_detailed_status(self, run: Run) -> list[str]:
        return selectors.run_progress(run).lines

    def get_total_cost(self, run: Run) -> str | None:
        if not run.usage_by_stage:
            return None
        return selectors.decimal_text(selectors.run_cost(run.usage_by_stage))

    def get_cost_per_accepted_sample(self, run: Run) -> str | None:
        return selectors.decimal_text(selectors.cost_per_accepted(run.usage_by_stage, run.accepted))


# The engine's settings, each as its own field, derived from their declaration.
RunOutput = type(
    "RunOutput",
    (RunOutputBase,),
    {
        **output_fields(LocalSettings, source="options"),
        "Meta": type(
            "Meta",
            (RunOutputBase.Meta,),
            {"fields": [*RunOutputBase.Meta.fields, *[o.name for o in options_of(LocalSettings)]]},
        ),
    },
)


class RunTargetInput(serializers.Serializer):
    spec_id = serializers.IntegerField()
    spec_version = serializers.IntegerField(
        required=False, help_text="Version number; default: the latest SUCCEEDED one."
    )
    provider_id = serializers.IntegerField(
        required=False,
        help_text="Default: the provider a `provider/model` id names, else `embedded`.",
    )
    model = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The provider's model name, or a `provider/model` id as `/v1/models` lists "
        "it. Empty: the provider's default model.",
    )
    dataset_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    num_samples = serializers.IntegerField(required=False)
    multiplier = serializers.IntegerField(required=False)


# What to make, and how: the engine's settings derived from their declaration.
RunInput = type("RunInput", (RunTargetInput,), serializer_fields(LocalSettings))


def _spec_version(project_id: int, spec_id: int, number: int | None) -> SpecVersion:
    versions = SpecVersion.objects.select_related("spec").filter(
        spec_id=spec_id, spec__project_id=project_id
    )
    if not versions.exists():
        raise serializers.ValidationError({"spec_id": [f"No spec {spec_id} in this project."]})
    version = (
        versions.filter(number=number).first()
        if number is not None
        else versions.filter(status="SUCCEEDED").order_by("-number").first()
    )
    if version is None:
        which = (
            f"has no version {number}"
            if number is not None
            else "has no version that passed its check (SUCCEEDED) yet"
        )
        raise serializers.ValidationError({"spec_version": [f"Spec {spec_id} {which}."]})
    return version


class RunListApi(ProjectAPIView):
    @extend_schema(
        responses=RunOutput(many=True),
        parameters=[
            OpenApiParameter("status", str, description="queued, running, succeeded, ..."),
            OpenApiParameter("spec", int, description="A spec id: only runs of that spec."),
            OpenApiParameter("before", int, description="A run id: only older runs (paging)."),
            OpenApiParameter("limit", int, description=f"1 to {MAX_RUNS_PAGE}; default 50."),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = RunFilters(request.query_params)
        if not filters.is_valid():
            errors = {name: [str(m) for m in messages] for name, messages in filters.errors.items()}
            raise serializers.ValidationError(errors)
        runs, _ = selectors.run_page(
            project=self.membership.project,
            status=filters.cleaned_data["status"],
            spec_id=filters.cleaned_data["spec"],
            before=filters.cleaned_data["before"],
            limit=filters.cleaned_data["limit"] or 50,
        )
        return Response(RunOutput(runs, many=True).data)

    @extend_schema(
        request=RunInput,
        responses={201: RunOutput, 200: EstimateOutput},
        parameters=[
            OpenApiParameter(
                "dry_run",
                bool,
                description="true: start nothing; answer 200 with what the run would take "
                "(calls, tokens, cost, time as low/high ranges, and the assumptions), after "
                "the same checks as a real start.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        require_editor(self.membership)
        dry_run = request.query_params.get("dry_run", "").lower()
        if dry_run not in ("", "true", "false", "1", "0"):
            raise serializers.ValidationError({"dry_run": ["dry_run must be true or false."]})
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        project = self.membership.project
        version = _spec_version(project.pk, params.pop("spec_id"), params.pop("spec_version", None))
        provider_id = params.pop("provider_id", None)
        provider = (
            core_selectors.provider_list(project=project).filter(pk=provider_id).first()
            if provider_id
            else core_selectors.provider_for_model(
                project=project, model_id=params.get("model", "")
            )
        )
        if provider is None:
            problem = (
                f"No provider {provider_id} in this project."
                if provider_id
                else "Name a provider: this project has no embedded one."
            )
            raise serializers.ValidationError({"provider_id": [problem]})
        if dry_run in ("true", "1"):
            estimate = services.run_estimate(
                membership=self.membership, spec_version=version, provider=provider, **params
            )
            return Response(estimate_data(estimate))
        run = services.run_create(
            membership=self.membership,
            spec_version=version,
            provider=provider,
            user=request.user,
            **params,
        )
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunDetailApi(ProjectAPIView):
    @extend_schema(responses=RunOutput)
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(project=self.membership.project, run_id=run_id)
        return Response(RunOutput(run).data)


class RunCancelApi(ProjectAPIView):
    @extend_schema(request=None, responses={202: RunOutput})
    def post(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(project=self.membership.project, run_id=run_id)
        run = services.run_cancel(membership=self.membership, run=run)
        return Response(RunOutput(run).data, status=status.HTTP_202_ACCEPTED)
