"""`POST /api/v1/synth_data/generate` in the OpenAPI schema (/api/schema/, /api/docs/).

The view is a plain async Django view (views.py); this DRF class only describes it (see
apps/inference/gateway/openapi.py `documented`) and is never routed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from apps.inference.gateway.openapi import GatewayDoc
from apps.runs.services import MAX_SAMPLES
from apps.specs.seeds import MAX_SEEDS
from apps.specs.services import MAX_TEXT_CHARS

TAG = "collinear-compatible"


class CollinearGenerateInput(serializers.Serializer):
    model_id = serializers.UUIDField(
        help_text="A model's UUID, from the Models page or GET /v1/models (metadata.uuid)."
    )
    multiplier = serializers.IntegerField(
        min_value=1, help_text=f"Rows per example; len(examples) × multiplier ≤ {MAX_SAMPLES:,}."
    )
    examples = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_SEEDS,
        help_text="Free-form rows, e.g. {conv_prefix, response} or {context, response}.",
    )
    prompt = serializers.CharField(
        allow_blank=True, max_length=MAX_TEXT_CHARS, help_text="The instruction."
    )


class CollinearRow(serializers.Serializer):
    original = serializers.DictField(help_text="The example, as sent.")
    generated = serializers.CharField(help_text="The new row, as a JSON string.")


class CollinearProblem(serializers.Serializer):
    loc = serializers.ListField(child=serializers.CharField())
    msg = serializers.CharField()
    type = serializers.CharField()


class CollinearProblems(serializers.Serializer):
    detail = CollinearProblem(many=True)


class CollinearMessage(serializers.Serializer):
    detail = serializers.CharField()


class SynthDataGenerate(GatewayDoc):
    @extend_schema(
        tags=[TAG],
        operation_id="collinear_synth_data_generate",
        summary="Fan examples out into new rows (Collinear's synth_data/generate)",
        description="`len(examples) × multiplier` new rows, each a variation of one example "
        "with its keys, made by an ordinary run into a new version of the dataset "
        "`collinear` (X-Seedbed-Run, X-Seedbed-Dataset, X-Seedbed-Dataset-Version). The "
        "array is streamed as the rows are accepted and closed when the run ends; a dropped "
        "connection does not stop the run. Auth: `Authorization: Bearer <API key>`.",
        request=CollinearGenerateInput,
        responses={
            200: OpenApiResponse(CollinearRow(many=True), "The rows, streamed."),
            400: OpenApiResponse(CollinearProblems, "Over a limit (the fields are named)."),
            401: OpenApiResponse(CollinearMessage, "No API key, or an unknown or revoked one."),
            403: OpenApiResponse(CollinearMessage, "A viewer of the project cannot start runs."),
            404: OpenApiResponse(CollinearProblems, "No model with this UUID here."),
            413: OpenApiResponse(CollinearMessage, "The body is over the size limit."),
            422: OpenApiResponse(CollinearProblems, "The body lacks this shape."),
        },
        examples=[
            OpenApiExample(
                "Conversations",
                request_only=True,
                value={
                    "model_id": "0b7c5a53-9d0e-5c4e-8d6f-2f1a3b4c5d6e",
                    "multiplier": 4,
                    "examples": [
                        {
                            "conv_prefix": [{"role": "user", "content": "My parcel is late."}],
                            "response": {"role": "assistant", "content": "Let me check."},
                        }
                    ],
                    "prompt": "Vary the customer's problem; keep the assistant helpful.",
                },
            )
        ],
    )
    def post(self, request: Request) -> Any:
        raise NotImplementedError("documentation only: views.synth_data_generate serves it")
