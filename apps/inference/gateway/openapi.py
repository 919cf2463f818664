"""The gateway's endpoints in the OpenAPI schema (/api/schema/, /api/docs/).

The gateway views are plain async Django views, served without DRF or middleware (see
asgi.py), so drf-spectacular does not see them. `documented(view, Doc)` gives a view the
`cls` attribute that DRF's `as_view()` gives its views, pointing at a DRF class that only
describes it: the schema generator finds the endpoint, while the URL still resolves to
the view itself, unwrapped. The classes below are never routed and never run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.core.authentication import ApiKeyAuthentication
from apps.core.schema import SeedbedAutoSchema

from . import openapi_shapes as shapes

OPENAI_TAG = "openai-compatible"
ANTHROPIC_TAG = "anthropic-compatible"

V = TypeVar("V", bound=Callable[..., Any])


def documented(view: V, doc: type[APIView]) -> V:
    """`view` itself, described in the OpenAPI schema by `doc`."""
    view.cls = doc  # type: ignore[attr-defined]
    view.initkwargs = {}  # type: ignore[attr-defined]
    return view


class GatewayDoc(APIView):
    # What the gateway accepts (gateway/auth.py): an API key in either header, JSON bodies.
    # (No docstring: drf-spectacular would show it as every subclass's description.)
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]


def _either(name: str, *serializers: type[Serializer]) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=name, serializers=list(serializers), resource_type_field_name=None
    )


def _errors(shape: type[Serializer]) -> dict[int, OpenApiResponse]:
    return {
        400: OpenApiResponse(shape, "Invalid request: the message names the field."),
        401: OpenApiResponse(shape, "No API key, or an unknown or revoked one."),
        404: OpenApiResponse(shape, "No such model (or alias) in the key's project."),
        429: OpenApiResponse(shape, "The provider is rate limiting; see Retry-After."),
        502: OpenApiResponse(shape, "The provider failed or answered badly."),
        504: OpenApiResponse(shape, "The provider did not answer in time."),
    }


def _answer(shape: type[Serializer], events: str) -> dict[Any, OpenApiResponse]:
    """The JSON answer, or with `stream: true` the server-sent `events`."""
    described = f"The answer; with `stream: true`, server-sent events instead: {events}"
    return {
        (200, "application/json"): OpenApiResponse(shape, described),
        (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR),
    }


TRAINING_JOB = OpenApiParameter(
    "X-Training-Job-Id",
    str,
    OpenApiParameter.HEADER,
    description="Recorded with the call (as the body's training_job_id).",
)
RECORDED = (
    "Every call leaves a row in the inference history (`GET /inferences/<id>`, feedback "
    "at `POST /inferences/<id>/feedback`); its id is in the X-Inference-Id response header."
)


def _post(**kwargs: Any) -> Callable[[Any], Any]:
    """extend_schema for a gateway POST: its training-job header and recording note."""
    kwargs["description"] = f"{kwargs.get('description', '')}\n\n{RECORDED}".strip()
    return extend_schema(parameters=[TRAINING_JOB], **kwargs)


def _served_elsewhere() -> NoReturn:
    raise NotImplementedError("documentation only: the gateway view serves this path")


class NativeInference(GatewayDoc):
    @_post(
        summary="Extract entities, classes, structures and relations, or generate text",
        description="Pioneer's `POST /inference`. `task: extract` (the default) finds what "
        "`schema` asks for in `text`, keeping items whose confidence reaches `threshold`; "
        "`task: generate` answers `messages` (or `text`) with a decoder model.",
        request=shapes.InferenceRequest,
        responses={
            200: OpenApiResponse(
                _either("InferenceResult", shapes.InferenceExtraction, shapes.InferenceGeneration),
                "The extraction (task extract) or the generated text (task generate).",
            ),
            **_errors(shapes.InferenceError),
        },
        examples=[
            OpenApiExample(
                "Extraction",
                request_only=True,
                value={
                    "model_id": "embedded/smollm2-135m-instruct",
                    "text": "Ada Lovelace met Charles Babbage in London.",
                    "schema": {"entities": ["person", "city"]},
                    "threshold": 0.5,
                },
            ),
            OpenApiExample(
                "Generation",
                request_only=True,
                value={
                    "model_id": "embedded/smollm2-135m-instruct",
                    "task": "generate",
                    "messages": [{"role": "user", "content": "Name three rivers."}],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Any:
        _served_elsewhere()


class ChatCompletions(GatewayDoc):
    @_post(
        operation_id="openai_chat_completions_create",
        tags=[OPENAI_TAG],
        summary="Chat completion (OpenAI-compatible), plain or streamed",
        request=shapes.ChatCompletionRequest,
        responses={
            **_answer(
                shapes.ChatCompletion,
                "`chat.completion.chunk` objects as `data:` lines, then `data: [DONE]`.",
            ),
            **_errors(shapes.OpenAIError),
        },
        examples=[
            OpenApiExample(
                "Chat",
                request_only=True,
                value={
                    "model": "embedded/smollm2-135m-instruct",
                    "messages": [{"role": "user", "content": "Say hello."}],
                    "max_tokens": 50,
                },
            )
        ],
    )
    def post(self, request: Request) -> Any:
        _served_elsewhere()


class Completions(GatewayDoc):
    @_post(
        operation_id="openai_completions_create",
        tags=[OPENAI_TAG],
        summary="Text completion (OpenAI-compatible, legacy), plain or streamed",
        request=shapes.CompletionRequest,
        responses={
            **_answer(
                shapes.TextCompletion,
                "`text_completion` objects as `data:` lines, then `data: [DONE]`.",
            ),
            **_errors(shapes.OpenAIError),
        },
    )
    def post(self, request: Request) -> Any:
        _served_elsewhere()


class Responses(GatewayDoc):
    @_post(
        operation_id="openai_responses_create",
        tags=[OPENAI_TAG],
        summary="Response (OpenAI Responses API, text only), plain or streamed",
        request=shapes.ResponseRequest,
        responses={
            **_answer(
                shapes.OpenAIResponse,
                "`response.created`, `response.output_text.delta`… and `response.completed`.",
            ),
            **_errors(shapes.OpenAIError),
        },
    )
    def post(self, request: Request) -> Any:
        _served_elsewhere()


class Messages(GatewayDoc):
    @_post(
        operation_id="anthropic_messages_create",
        tags=[ANTHROPIC_TAG],
        summary="Message (Anthropic-compatible), plain or streamed",
        description="The Anthropic SDK sends its key as `x-api-key`.",
        request=shapes.MessagesRequest,
        responses={
            **_answer(
                shapes.AnthropicMessage,
                "`message_start`, `content_block_delta`…, `message_delta` and `message_stop`.",
            ),
            **_errors(shapes.AnthropicError),
        },
        examples=[
            OpenApiExample(
                "Message",
                request_only=True,
                value={
                    "model": "embedded/smollm2-135m-instruct",
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": "Say hello."}],
                },
            )
        ],
    )
    def post(self, request: Request) -> Any:
        _served_elsewhere()


class ModelsSchema(SeedbedAutoSchema):
    """One view serves both the list and one model: the path says which."""

    def _one(self) -> bool:
        return "{model_id}" in self.path

    def get_operation_id(self) -> str:
        return "openai_models_retrieve" if self._one() else "openai_models_list"

    def get_summary(self) -> str:
        return "One model" if self._one() else "The project's models and aliases"

    def get_response_serializers(self) -> Any:
        if self._one():
            found = _either("ModelResult", shapes.OpenAIModel, shapes.AnthropicModel)
        else:
            found = _either("ModelListResult", shapes.OpenAIModelList, shapes.AnthropicModelList)
        error = _either("ModelsError", shapes.OpenAIError, shapes.AnthropicError)
        return {
            200: found,
            401: OpenApiResponse(error, "No API key, or an unknown or revoked one."),
            404: OpenApiResponse(error, "No such model (or alias) in the key's project."),
        }


class Models(GatewayDoc):
    """Shared by the OpenAI and Anthropic SDKs: the answer is in Anthropic's shape when the
    request carries `anthropic-version`, in OpenAI's otherwise. Model ids contain `/`."""

    schema = ModelsSchema()

    @extend_schema(
        tags=[OPENAI_TAG, ANTHROPIC_TAG],
        parameters=[
            OpenApiParameter(
                "anthropic-version",
                str,
                OpenApiParameter.HEADER,
                description="Sent by the Anthropic SDK: answer in Anthropic's shape.",
            )
        ],
    )
    def get(self, request: Request, model_id: str | None = None) -> Any:
        _served_elsewhere()
