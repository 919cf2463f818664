"""Seedbed's own `POST /inference` (Pioneer's shape).

Extraction (the default task):

    {"model_id": "embedded/smollm2-135m-instruct", "text": "...", "threshold": 0.5,
     "schema": {"entities": [...], "classifications": [...], "structures": {...},
                "relations": [...]}}
    -> {"id", "model_id", "entities", "classifications", "structures", "relations", "usage"}

Generation (decoder models):

    {"model_id": "...", "task": "generate", "messages": [{"role": "user", "content": "..."}]}
    -> {"id", "model_id", "output", "usage"}

`id` is the history id (`GET /inferences/<id>`, `POST /inferences/<id>/feedback`).
Limits: text up to 100,000 characters, up to 200 labels per list, threshold 0..1;
a violation is a 400 `{"detail": ..., "field": ...}`.
"""

from __future__ import annotations

from typing import Any

from django.http.response import HttpResponseBase

from apps.inference.models import Protocol

from . import messages as m
from .calls import Call, gateway_view
from .errors import bad_request
from .extraction import extract_with
from .schema import spec_parse, text_check, threshold_check

TASKS = ("extract", "generate")


def _model_id(body: dict[str, Any]) -> str:
    value = body.get("model_id", body.get("model"))
    if not isinstance(value, str) or not value.strip():
        raise bad_request("model_id is required: a model id from GET /v1/models.", "model_id")
    return value.strip()


async def _generate(call: Call, body: dict[str, Any]) -> HttpResponseBase:
    if body.get("messages") is not None:
        chat = m.openai_messages(body["messages"])
    else:
        chat = [{"role": "user", "content": text_check(body.get("text"))}]
    call.input_text = m.last_user_text(chat)
    options: dict[str, Any] = {
        "temperature": m.number(body, "temperature", 0, 2),
        "top_p": m.number(body, "top_p", 0, 1),
        "max_tokens": m.integer(body, "max_tokens", "max_new_tokens"),
    }
    resolved = await call.resolve(_model_id(body))
    result = await resolved.client.chat(chat, model=resolved.upstream_model, **options)
    usage = {
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "total_tokens": result.usage.total_tokens,
    }
    answer = {
        "id": await call.inference_id(),
        "model_id": call.model_id,
        "output": result.content,
        "usage": usage,
    }
    return await call.respond(
        answer,
        output_text=result.content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )


@gateway_view(Protocol.NATIVE, "extract")
async def inference(call: Call) -> HttpResponseBase:
    body = await call.begin()
    task = body.get("task") or "extract"
    if task not in TASKS:
        raise bad_request(f"task must be one of {', '.join(TASKS)}.", "task")
    call.task = task
    if task == "generate":
        return await _generate(call, body)
    text = text_check(body.get("text"))
    call.input_text = text
    spec = spec_parse(body.get("schema"))
    threshold = threshold_check(body.get("threshold"))
    resolved = await call.resolve(_model_id(body))
    found, result = await extract_with(
        resolved.client, resolved.upstream_model, text, spec, threshold
    )
    usage = found.pop("usage")
    answer = {"id": await call.inference_id(), "model_id": call.model_id, **found, "usage": usage}
    return await call.respond(
        answer,
        output=found,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
