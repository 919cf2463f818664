"""Bad input is a 400, never a 500: the answer for an `InputError` anywhere.

API paths get JSON naming the field (the gateway's paths in the SDKs' error shape), pages
the message on a page of their own. The middleware also refuses query parameters that
PostgreSQL could not compare with (a NUL in `?q=`), for every view at once.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .api_paths import GATEWAY_PREFIX, is_api_path
from .inputs import InputError, check_query


def bad_input_response(request: HttpRequest, error: InputError) -> HttpResponse:
    path = request.path_info
    if path.startswith(GATEWAY_PREFIX):
        # Both SDKs read error.message; OpenAI's also reads param, Anthropic's type.
        body = {"type": "invalid_request_error", "message": error.message, "param": error.field}
        return JsonResponse({"type": "error", "error": body}, status=400)
    if is_api_path(path):
        return JsonResponse(error.as_dict(), status=400)
    return render(request, "core/bad_input.html", {"message": error.message}, status=400)


class BadInputMiddleware:
    """Refuses unstorable query parameters up front, and turns an InputError raised by a
    view into its 400 (DRF views and the gateway answer theirs themselves)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        refused = self._refused(request)
        return refused if refused is not None else self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        refused = self._refused(request)
        return refused if refused is not None else await self.get_response(request)

    @staticmethod
    def _refused(request: HttpRequest) -> HttpResponse | None:
        try:
            check_query(request.GET)
        except InputError as exc:
            return bad_input_response(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, InputError):
            return bad_input_response(request, exception)
        return None
