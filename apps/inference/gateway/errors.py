"""Errors of the gateway, rendered in the caller's protocol with the right HTTP status.

OpenAI: `{"error": {"message", "type", "param", "code"}}`; Anthropic: `{"type": "error",
"error": {"type", "message"}}`; native: `{"detail": ..., "field": ...}`. Upstream failures
keep their meaning: the provider rate limiting us is a 429 (with its Retry-After), a
timeout a 504, anything else it did wrong a 502.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse

from apps.core.llm import (
    LimiterUnavailable,
    LLMError,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTimeout,
)
from apps.core.llm.grammar_safety import SchemaRefused
from apps.inference.models import Protocol

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


class UnreadableAnswer(ProviderBadResponse):
    """The model answered, but not in the shape Seedbed asked for. `content` is what it
    said: the call's history row keeps it, so that someone can see why the call failed."""

    def __init__(
        self, message: str, *, content: str, input_tokens: int = 0, output_tokens: int = 0
    ) -> None:
        super().__init__(message)
        self.content = content
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


def bad_request(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, param=param)


def from_validation(exc: ValidationError) -> GatewayError:
    """The first problem of a ValidationError as a 400 naming its field."""
    if hasattr(exc, "error_dict"):
        field, messages = next(iter(exc.message_dict.items()))
        return bad_request(f"{field}: {messages[0]}", param=field)
    return bad_request(exc.messages[0] if exc.messages else "Invalid request.")


def from_llm(exc: LLMError) -> GatewayError:
    """What an upstream failure means to the caller."""
    message = exc.user_message
    if isinstance(exc, ProviderRateLimited):
        return GatewayError(429, message, code="rate_limit_exceeded", retry_after=exc.retry_after)
    if isinstance(exc, ProviderTimeout):
        return GatewayError(504, message, code="upstream_timeout")
    if isinstance(exc, LimiterUnavailable):
        return GatewayError(503, message, code="unavailable")
    if isinstance(exc, SchemaRefused):
        # A schema the gateway built (extraction): the caller's names are in the reason.
        return GatewayError(400, f"schema: {exc.reason}", param="schema", code="unsupported_schema")
    if isinstance(exc, ProviderAuthError | ProviderRefused):
        return GatewayError(502, message, code="upstream_configuration")
    if isinstance(exc, ProviderHTTPError) and exc.status_code == 404:
        return GatewayError(404, message, param="model", code="model_not_found")
    if isinstance(exc, ProviderHTTPError) and exc.status_code in (400, 413, 422):
        return GatewayError(400, message, code="upstream_rejected_request")
    return GatewayError(502, message, code="upstream_error")


def error_body(protocol: str, error: GatewayError) -> dict[str, Any]:
    if protocol == Protocol.OPENAI:
        kind = OPENAI_TYPES.get(error.status, "api_error")
        return {
            "error": {
                "message": error.message,
                "type": kind,
                "param": error.param,
                "code": error.code,
            }
        }
    if protocol == Protocol.ANTHROPIC:
        kind = ANTHROPIC_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    body: dict[str, Any] = {"detail": error.message}
    if error.param:
        # The native API (Pioneer's shape) names the model `model_id`.
        body["field"] = "model_id" if error.param == "model" else error.param
    if error.code:
        body["code"] = error.code
    return body


def error_response(protocol: str, error: GatewayError) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_body(protocol, error), ensure_ascii=False).encode(),
        status=error.status,
        content_type="application/json",
    )
    if error.retry_after is not None:
        response["Retry-After"] = str(max(1, round(error.retry_after)))
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="seedbed"'
    return response
