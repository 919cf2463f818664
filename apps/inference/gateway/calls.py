"""What every gateway call does around its protocol: authenticate, read the body, resolve
the model, answer, and leave exactly one history row, whatever happens.

A view is an `async def view(call) -> HttpResponse` wrapped by `gateway_view`, which turns
every failure into the protocol's error shape and records it. A row is queued when the
call ends (for streams: when the stream ends, fails or the client goes away).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from apps.core.inputs import InputError, parse_json, storable
from apps.core.llm import LLMError
from apps.inference.recording import recorder
from apps.inference.registry import ModelNotFound, Resolved, resolve

from .auth import KeyInfo, authenticate
from .errors import (
    GatewayError,
    UnreadableAnswer,
    bad_request,
    error_response,
    from_llm,
    from_validation,
)

logger = logging.getLogger(__name__)

MAX_JOB_ID = 200
CLIENT_GONE = "The client closed the connection before the answer was complete."


def dumps(data: Any) -> bytes:
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate in the model's answer is not UTF-8
        return json.dumps(storable(data), ensure_ascii=False, separators=(",", ":")).encode()


class Call:
    """One request through the gateway, from its key to its history row."""

    def __init__(self, request: HttpRequest, protocol: str, task: str) -> None:
        self.request = request
        self.protocol = protocol
        self.task = task
        self.started = time.perf_counter()
        self.key: KeyInfo | None = None
        self.body: dict[str, Any] = {}
        self.model_id = ""
        self.resolved: Resolved | None = None
        self.input_text = ""
        self.training_job_id = ""
        self.streamed = False
        self._id: asyncio.Future[int] | None = None
        self._finished = False

    # -- the start of every call --

    async def begin(self) -> dict[str, Any]:
        """Authenticate and read the JSON body (an object); GatewayError otherwise."""
        self.key = await authenticate(self.request)
        self._id = recorder().reserve_id()
        try:
            raw = self.request.body
        except RequestDataTooBig:
            raise GatewayError(413, "The request body is too large.") from None
        try:
            body = parse_json(raw or b"null")
        except InputError as exc:
            # Kept for the history row, made storable: it is what the caller sent.
            self.body = {"_invalid_json": storable(raw[:1000].decode("utf-8", "replace"))}
            raise bad_request(exc.message, exc.field) from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        self.body = body
        named = body.get("model", body.get("model_id"))
        self.model_id = named[:320] if isinstance(named, str) else ""
        job = body.get("training_job_id")
        if job is None:
            job = self.request.META.get("HTTP_X_TRAINING_JOB_ID", "")
        if job is not None and not isinstance(job, str | int):
            raise bad_request("training_job_id must be a string.", "training_job_id")
        job = str(job or "")
        if len(job) > MAX_JOB_ID:
            raise bad_request(
                f"training_job_id must be at most {MAX_JOB_ID} characters.", "training_job_id"
            )
        self.training_job_id = job
        return body

    async def resolve(self, model_id: str) -> Resolved:
        assert self.key is not None
        self.model_id = model_id
        try:
            self.resolved = await resolve(self.key.project_id, model_id)
        except ModelNotFound as exc:
            raise GatewayError(404, str(exc), param="model", code="model_not_found") from None
        return self.resolved

    async def inference_id(self) -> int | None:
        """The history id of this call (known before the row is written), if any."""
        if self._id is None:
            return None
        try:
            return await asyncio.shield(self._id)
        except Exception:
            logger.warning("no history id for this call", exc_info=True)
            return None

    async def public_id(self, prefix: str) -> str:
        """The id in the protocol's style, e.g. `chatcmpl-123` for history row 123 (a
        random one when the database could not give an id: the row is still written)."""
        inference_id = await self.inference_id()
        return f"{prefix}{inference_id if inference_id is not None else uuid.uuid4().hex}"

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    # -- the end of every call --

    def finish(
        self,
        *,
        status: str = "ok",
        http_status: int = 200,
        error: str = "",
        output: Any = None,
        output_text: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        """Queue the call's history row (once; later calls are ignored)."""
        if self._finished or self.key is None:
            return
        self._finished = True
        resolved = self.resolved
        row: dict[str, Any] = {
            "project_id": self.key.project_id,
            "api_key_id": self.key.id,
            "user_id": self.key.user_id,
            "model_id": self.model_id[:320],
            "provider_id": resolved.provider.pk if resolved else None,
            "upstream_model": resolved.upstream_model[:200] if resolved else "",
            "protocol": self.protocol,
            "task": self.task,
            "request": self.body,
            "input_text": self.input_text,
            # The model's answer is stored as it came, but for what PostgreSQL cannot
            # hold (a NUL, a lone surrogate): those become U+FFFD (apps/core/inputs.py).
            "output": storable(output),
            "output_text": storable(output_text),
            "error": storable(error),
            "streamed": self.streamed,
            "status": status,
            "http_status": http_status,
            "latency_ms": round(self.elapsed_ms(), 3),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "training_job_id": self.training_job_id,
        }
        queue = recorder()
        future = self._id
        if future is None:
            queue.submit(row)
        elif future.done():
            _submit_with_id(queue, row, future)
        else:
            future.add_done_callback(functools.partial(_submit_with_id, queue, row))

    async def fail(self, error: GatewayError, **finished: Any) -> HttpResponseBase:
        """The error in the protocol's shape; the row is queued first (`finished`: what
        the model said and cost, when it answered)."""
        self.finish(status="error", http_status=error.status, error=error.message, **finished)
        response = error_response(self.protocol, error)
        await self.stamp(response)
        return response

    async def respond(self, data: dict[str, Any], **finished: Any) -> HttpResponseBase:
        """The JSON answer; the row is queued first (with `finished` fields)."""
        self.finish(**finished)
        response = HttpResponse(dumps(data), content_type="application/json")
        await self.stamp(response)
        return response

    async def stamp(self, response: HttpResponseBase) -> None:
        inference_id = await self.inference_id()
        if inference_id is not None:
            response["X-Inference-Id"] = str(inference_id)


def _submit_with_id(queue: Any, row: dict[str, Any], future: asyncio.Future[int]) -> None:
    if not future.cancelled() and future.exception() is None:
        row["id"] = future.result()
    queue.submit(row)


View = Callable[[Call], Awaitable[HttpResponseBase]]


def gateway_view(protocol: str, task: str) -> Callable[[View], Callable[..., Any]]:
    """An async, CSRF-exempt POST view whose failures come back in `protocol`'s shape."""

    def decorate(view: View) -> Callable[..., Any]:
        @csrf_exempt
        @functools.wraps(view)
        async def wrapper(request: HttpRequest) -> HttpResponseBase:
            call = Call(request, protocol, task)
            if request.method != "POST":
                return error_response(protocol, GatewayError(405, "Use POST."))
            try:
                return await view(call)
            except asyncio.CancelledError:
                # The client went away (Django cancels the view): still one row.
                call.finish(status="error", http_status=499, error=CLIENT_GONE)
                raise
            except GatewayError as exc:
                return await call.fail(exc)
            except ValidationError as exc:
                return await call.fail(from_validation(exc))
            except InputError as exc:
                return await call.fail(bad_request(exc.message, exc.field))
            except UnreadableAnswer as exc:
                return await call.fail(
                    from_llm(exc),
                    output_text=exc.content,
                    input_tokens=exc.input_tokens,
                    output_tokens=exc.output_tokens,
                )
            except LLMError as exc:
                return await call.fail(from_llm(exc))
            except Exception:
                logger.exception("gateway call failed")
                return await call.fail(GatewayError(500, "Internal error in Seedbed."))

        return wrapper

    return decorate
