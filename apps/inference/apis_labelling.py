"""Pioneer-compatible label-existing endpoints.

    POST /generate/ner/label-existing
        {"labels": ["person", "city"], "texts": ["Ada lives in Paris.", …],
         "model_id": "embedded/smollm2-135m-instruct", "threshold": 0.5}
    → {"results": [{"text": …, "entities": [{"text", "label", "start", "end",
                    "confidence"}], "inference_id": 17}, …],
       "model_id": …, "usage": {"input_tokens", "output_tokens", "calls", "failed"}}

    POST /generate/classification/label-existing
        {"labels": ["billing", "bug"], "texts": […], "multi_label": false}
    → {"results": [{"text", "label", "confidence", "inference_id"}], "model_id", "usage"}
      (with multi_label: `labels` instead of `label`; `label` is null, `labels` empty,
      when no class reaches the threshold)

One result per text, in the order given. A text whose call failed has `"error"` (and no
entities, or a null label); when every call fails the answer is 502. Limits (400 naming the field):
1 to 1,000 texts of at most 20,000 characters, 1 to 200 labels. The generate rate limit
(120 requests a minute per user) applies; 429 carries Retry-After.

The request is held until every text is labelled (seconds per text with the embedded
model). For many texts, start a labelling job instead: `POST /api/v1/labelling-jobs/`
(apis_labelling_jobs.py) answers 202 at once, labels up to 10,000 texts in the background
into a dataset version, and is polled at its `url`.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.models import ApiKey
from apps.core.parsers import JSONField
from apps.core.schema import RATE_LIMITED
from apps.core.services import require_editor
from apps.core.throttle import generate_throttle
from apps.specs.models import TaskType

from . import labelling


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class Strings(JSONField):
    """A list of strings, checked by the service (which names the bad item's index)."""


class LabelExistingInput(serializers.Serializer):
    # Types only: the limits live in labelling.py, shared with the file form, and raise
    # errors naming the field (`texts`, `labels`) with the index of the bad item.
    labels = Strings(help_text=f"1 to {labelling.MAX_LABELS} entity types or class names.")
    texts = Strings(
        help_text=f"1 to {labelling.MAX_TEXTS:,} texts of at most "
        f"{labelling.MAX_TEXT_CHARS:,} characters."
    )
    model_id = serializers.CharField(required=False, allow_blank=True, max_length=320)
    multi_label = serializers.BooleanField(required=False, default=False)
    threshold = serializers.FloatField(
        required=False, default=labelling.DEFAULT_THRESHOLD, min_value=0, max_value=1
    )


class LabelUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    calls = serializers.IntegerField()
    failed = serializers.IntegerField()


class _LabelResult(serializers.Serializer):
    text = serializers.CharField()
    inference_id = serializers.IntegerField(
        allow_null=True, help_text="Its history row: give feedback there."
    )
    error = serializers.CharField(required=False, help_text="Only when this text's call failed.")


class Entity(serializers.Serializer):
    text = serializers.CharField()
    # Shadows Field.label (the field's title) on purpose: the answer's key is `label`.
    label = serializers.CharField()  # type: ignore[assignment]
    start = serializers.IntegerField(allow_null=True)
    end = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)


class NerResult(_LabelResult):
    entities = Entity(many=True)


class ClassResult(_LabelResult):
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="Without multi_label; null below threshold."
    )
    labels = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="With multi_label."
    )
    confidence = serializers.FloatField(allow_null=True)


class _LabelOutput(serializers.Serializer):
    model_id = serializers.CharField()
    usage = LabelUsage()


class NerLabelOutput(_LabelOutput):
    results = NerResult(many=True)


class ClassLabelOutput(_LabelOutput):
    results = ClassResult(many=True)


def _responses(output: type[_LabelOutput]) -> dict[int, Any]:
    return {
        200: output,
        429: RATE_LIMITED,
        502: OpenApiResponse(output, "Every call failed; `detail` names the first error."),
    }


class _LabelExistingApi(ProjectAPIView):
    task: str = ""

    def post(self, request: Request) -> Response:
        if limited := generate_throttle(request):
            return limited
        require_editor(self.membership)
        data = LabelExistingInput(data=request.data)
        data.is_valid(raise_exception=True)
        params: dict[str, Any] = data.validated_data
        answer = labelling.texts_label(
            project=self.membership.project,
            task=self.task,
            labels=params["labels"],
            texts=params["texts"],
            model_id=params.get("model_id") or None,
            multi_label=params["multi_label"] and self.task == TaskType.CLASSIFICATION,
            threshold=params["threshold"],
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
        )
        usage = answer["usage"]
        if usage["calls"] and usage["failed"] == usage["calls"]:
            first = next(r["error"] for r in answer["results"] if r.get("error"))
            return Response(
                {"detail": f"Every call failed: {first}", **answer},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        return Response(answer)


class NerLabelExistingApi(_LabelExistingApi):
    """Entities for 1 to 1,000 texts: `{"results": [{"text", "entities": [{"text", "label",
    "start", "end", "confidence"}]}], "model_id", "usage"}`, in the order given. The request
    is held until all are labelled; for many texts use `POST /api/v1/labelling-jobs/`."""

    task = TaskType.NER

    @extend_schema(request=LabelExistingInput, responses=_responses(NerLabelOutput))
    def post(self, request: Request) -> Response:
        return super().post(request)


class ClassificationLabelExistingApi(_LabelExistingApi):
    """A class for each of 1 to 1,000 texts: `{"results": [{"text", "label", "confidence"}],
    "model_id", "usage"}` (`labels` instead of `label` with `multi_label`). The request is
    held until all are labelled; for many texts use `POST /api/v1/labelling-jobs/`."""

    task = TaskType.CLASSIFICATION

    @extend_schema(request=LabelExistingInput, responses=_responses(ClassLabelOutput))
    def post(self, request: Request) -> Response:
        return super().post(request)
