"""Paths that scripts and SDKs call: served with or without a trailing slash, and a JSON
404 when they match nothing."""

from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import get_urlconf, is_valid_path
from django.utils.decorators import sync_and_async_middleware

# Paths that scripts and SDKs call: Seedbed's REST API, the OpenAI/Anthropic gateway
# and the Pioneer-compatible endpoints. Pages live elsewhere (`/inference/` included).
API_PREFIXES = ("/api/", "/v1/", "/generate", "/inferences")
GATEWAY_PREFIX = "/v1/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/inference"


def complete_api_path(request: HttpRequest) -> None:
    """Serves an API path written with or without its trailing slash.

    Scripts write `/api/v1/specs` as often as `/api/v1/specs/`, and `/inferences/7/` for
    `/inferences/7`. CommonMiddleware's APPEND_SLASH answers the first with a redirect,
    which drops a POST's body (and is an error page under DEBUG), and cannot help the
    second; an API client gains nothing from either, so the path is completed in place.
    """
    path = request.path_info
    if not is_api_path(path):
        return
    urlconf = getattr(request, "urlconf", None) or get_urlconf()
    if is_valid_path(path, urlconf):
        return
    other = path[:-1] if path.endswith("/") else f"{path}/"
    if is_valid_path(other, urlconf):
        request.path = request.path[: len(request.path) - len(path)] + other
        request.path_info = other


@sync_and_async_middleware
def api_trailing_slash_middleware(get_response: Any) -> Any:
    """`complete_api_path` for every request, without the thread hop a MiddlewareMixin
    costs under ASGI (it only resolves URLs)."""
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponse:
            complete_api_path(request)
            return await get_response(request)  # type: ignore[no-any-return]

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponse:
        complete_api_path(request)
        return get_response(request)  # type: ignore[no-any-return]

    return middleware


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for a URL that matches nothing: JSON for API clients (in the error shape their
    SDK reads), the site's page for browsers."""
    path = request.path_info
    if not is_api_path(path):
        context = {"message": "No page at this address.", "path": path}
        return render(request, "404.html", context, status=404)
    message = f"No endpoint {request.method} {path}; see /api/docs/."
    if path.startswith(GATEWAY_PREFIX):
        # Both SDKs read error.message; OpenAI's adds code, Anthropic's reads type.
        error = {"type": "not_found_error", "message": message, "code": "unknown_url"}
        return JsonResponse({"type": "error", "error": error}, status=404)
    return JsonResponse({"detail": message}, status=404)
