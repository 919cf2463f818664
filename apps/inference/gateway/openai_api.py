"""OpenAI-compatible endpoints: /v1/chat/completions, /v1/completions, /v1/models.

A chat completion that carries Seedbed's non-standard `schema` field (what the OpenAI SDK
sends through `extra_body`) becomes an extraction: the text is the last user message, the
result JSON (the native `/inference` body without id and usage) is the message content.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from apps.core.llm import Usage
from apps.inference.models import Protocol
from apps.inference.registry import ModelNotFound, amodel_list, model_uuid, resolve

from . import messages as m
from .auth import authenticate
from .calls import Call, dumps, gateway_view
from .errors import GatewayError, bad_request, error_response
from .extraction import extract_with
from .grammar import check_schema
from .schema import spec_parse, text_check, threshold_check
from .streams import open_stream, sse, stream_response

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def finish_reason(value: str | None) -> str:
    return FINISH.get(value or "stop", value or "stop")


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


SCHEMA_FIELD = "response_format.json_schema.schema"

# Options a caller would silently lose: refused with a 400 naming them, not ignored.
UNSUPPORTED = ("logprobs", "top_logprobs", "echo", "suffix", "logit_bias")


def sampling(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling options every OpenAI-style endpoint shares, checked."""
    if body.get("n") not in (None, 1):
        raise bad_request("n must be 1: one choice per request.", "n")
    if body.get("best_of") not in (None, 1):
        raise bad_request("best_of must be 1: one choice per request.", "best_of")
    if body.get("tools") or body.get("functions"):
        raise bad_request("tools are not supported by this gateway.", "tools")
    m.refuse_unsupported(body, UNSUPPORTED)
    response_format = body.get("response_format")
    options: dict[str, Any] = {
        "temperature": m.number(body, "temperature", 0, 2),
        "top_p": m.number(body, "top_p", 0, 1),
        "max_tokens": m.integer(body, "max_completion_tokens", "max_tokens"),
        "stop": m.stops(body.get("stop")),
    }
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise bad_request("response_format.json_schema.schema must be an object.")
        options["json_schema"] = schema
    elif isinstance(response_format, dict) and response_format.get("type") == "json_object":
        options["json_schema"] = {"type": "object"}
    return options


def include_usage(body: dict[str, Any]) -> bool:
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))


class ChatChunks:
    """`chat.completion.chunk` events, then `data: [DONE]`."""

    def __init__(self, ident: str, model: str, with_usage: bool) -> None:
        self.head = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time())}
        self.model = model
        self.with_usage = with_usage

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body: dict[str, Any] = {**self.head, "model": self.model, "choices": [choice]}
        if self.with_usage:
            body["usage"] = None
        return sse(dumps(body))

    def start(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""}, None)

    def delta(self, text: str) -> bytes:
        return self._chunk({"content": text}, None)

    def end(self, finish: str | None, usage: Usage) -> bytes:
        out = self._chunk({}, finish_reason(finish))
        if self.with_usage:
            body = {**self.head, "model": self.model, "choices": [], "usage": usage_body(usage)}
            out += sse(dumps(body))
        return out + b"data: [DONE]\n\n"

    def error(self, error: GatewayError) -> bytes:
        body = {"error": {"message": error.message, "type": "api_error", "code": error.code}}
        return sse(dumps(body))


class TextChunks(ChatChunks):
    """`text_completion` events of /v1/completions."""

    def __init__(self, ident: str, model: str, with_usage: bool) -> None:
        super().__init__(ident, model, with_usage)
        self.head["object"] = "text_completion"

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {
            "text": delta.get("content", ""),
            "index": 0,
            "logprobs": None,
            "finish_reason": finish,
        }
        body = {**self.head, "model": self.model, "choices": [choice]}
        return sse(dumps(body))

    def start(self) -> bytes:
        return b""


async def _extraction(call: Call, body: dict[str, Any], chat: list[dict[str, str]]) -> Any:
    call.task = "extract"
    text = text_check(m.last_user_text(chat))
    call.input_text = text
    spec = spec_parse(body["schema"])
    threshold = threshold_check(body.get("threshold"))
    if body.get("stream"):
        raise bad_request("Extraction (a request with a schema) cannot be streamed.", "stream")
    resolved = await call.resolve(m.check_model(body.get("model")))
    found, result = await extract_with(
        resolved.client, resolved.upstream_model, text, spec, threshold
    )
    found.pop("usage")
    content = dumps(found).decode()
    answer = {
        "id": await call.public_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage_body(result.usage),
    }
    return await call.respond(
        answer,
        output=found,
        output_text=content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )


@gateway_view(Protocol.OPENAI, "chat")
async def chat_completions(call: Call) -> HttpResponseBase:
    body = await call.begin()
    chat = m.openai_messages(body.get("messages"))
    if body.get("schema") is not None:
        return await _extraction(call, body, chat)
    call.input_text = m.last_user_text(chat)
    options = sampling(body)
    stream = m.flag(body, "stream")
    resolved = await call.resolve(m.check_model(body.get("model")))
    check_schema(resolved, options, SCHEMA_FIELD)
    options["model"] = resolved.upstream_model
    if stream:
        first, chunks = await open_stream(resolved.client, chat, **options)
        fmt = ChatChunks(await call.public_id("chatcmpl-"), call.model_id, include_usage(body))
        return await stream_response(call, first, chunks, fmt)
    result = await resolved.client.chat(chat, **options)
    answer = {
        "id": await call.public_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason(result.finish_reason),
            }
        ],
        "usage": usage_body(result.usage),
    }
    return await call.respond(
        answer,
        output_text=result.content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )


@gateway_view(Protocol.OPENAI, "completion")
async def completions(call: Call) -> HttpResponseBase:
    body = await call.begin()
    chat = m.prompt_messages(body.get("prompt"))
    call.input_text = chat[0]["content"]
    options = sampling(body)
    stream = m.flag(body, "stream")
    resolved = await call.resolve(m.check_model(body.get("model")))
    check_schema(resolved, options, SCHEMA_FIELD)
    options["model"] = resolved.upstream_model
    ident = await call.public_id("cmpl-")
    if stream:
        first, chunks = await open_stream(resolved.client, chat, **options)
        fmt = TextChunks(ident, call.model_id, include_usage(body))
        return await stream_response(call, first, chunks, fmt)
    result = await resolved.client.chat(chat, **options)
    answer = {
        "id": ident,
        "object": "text_completion",
        "created": int(time.time()),
        "model": call.model_id,
        "choices": [
            {
                "text": result.content,
                "index": 0,
                "logprobs": None,
                "finish_reason": finish_reason(result.finish_reason),
            }
        ],
        "usage": usage_body(result.usage),
    }
    return await call.respond(
        answer,
        output_text=result.content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )


def _anthropic_model(entry_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": entry_id,
        "display_name": entry_id,
        "created_at": "1970-01-01T00:00:00Z",
    }


@csrf_exempt
async def models(request: HttpRequest, model_id: str | None = None) -> HttpResponseBase:
    """`GET /v1/models[/<id>]`, in Anthropic's shape when the caller sends
    `anthropic-version` (both SDKs use this path). Not recorded: nothing is inferred."""
    anthropic = "anthropic-version" in request.headers
    protocol = Protocol.ANTHROPIC if anthropic else Protocol.OPENAI
    if request.method != "GET":
        return error_response(protocol, GatewayError(405, "Use GET."))
    try:
        key = await authenticate(request)
        if model_id is not None:
            resolved = await resolve(key.project_id, model_id)
            body: dict[str, Any] = (
                _anthropic_model(model_id)
                if anthropic
                else {
                    "id": model_id,
                    "object": "model",
                    "created": 0,
                    "owned_by": resolved.provider.name,
                    "metadata": {"uuid": str(model_uuid(model_id))},
                }
            )
        else:
            entries = await amodel_list(key.project_id)
            if anthropic:
                data = [_anthropic_model(entry.id) for entry in entries]
                body = {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                }
            else:
                body = {"object": "list", "data": [entry.as_openai() for entry in entries]}
    except GatewayError as exc:
        return error_response(protocol, exc)
    except ModelNotFound as exc:
        error = GatewayError(404, str(exc), param="model", code="model_not_found")
        return error_response(protocol, error)
    return HttpResponse(dumps(body), content_type="application/json")
