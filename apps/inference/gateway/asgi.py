"""A lean ASGI path for the gateway's URLs, in front of Django's own handler.

Under ASGI, Django runs every request in a fresh thread-sensitive context (a new thread
per request for sync work) and every `MiddlewareMixin` middleware hops to that thread
for its hooks; with this project's middleware stack a trivial async view cost ~4 ms of
CPU per request (measured on 2 cores), i.e. at most ~250 requests/s per core. Gateway
calls need none of that middleware (no sessions, cookies, CSRF or messages: they
authenticate with API keys), so requests under GATEWAY_PREFIXES go to a handler with no
middleware and no thread hops; they are still ordinary Django async views resolved by
the root URLconf. Everything else, and the ASGI lifespan, goes to Django as before.

The gateway checks the caller's key from the headers before it reads a byte of the
body, then reads the body with the size limit enforced while it streams in: an anonymous
or oversized request costs a header parse, never a buffered body.

The lifespan shutdown writes the history rows still queued (see recording.py).
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse
from django.urls import URLPattern, set_script_prefix

from apps.inference.models import Protocol
from apps.inference.recording import flush_all

from .auth import authenticate
from .errors import GatewayError, error_response

logger = logging.getLogger(__name__)

Scope = Any
Receive = Any
Send = Any
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GATEWAY_PREFIXES = ("/v1/",)
# Only the exact native path: the pages under /inference/ need the full middleware.
GATEWAY_PATHS = frozenset({"/inference"})


def is_gateway_path(path: str) -> bool:
    return path in GATEWAY_PATHS or path.startswith(GATEWAY_PREFIXES)


def protocol_of(request: Any) -> str:
    """The error shape a caller understands, before any view has run (the Anthropic SDK
    sends `anthropic-version` on every request, /v1/models included)."""
    if request.path_info in GATEWAY_PATHS:
        return Protocol.NATIVE
    if request.path_info == "/v1/messages" or "HTTP_ANTHROPIC_VERSION" in request.META:
        return Protocol.ANTHROPIC
    return Protocol.OPENAI


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler without middleware, request signals or thread hops.

    The gateway's own routes (exact paths of `root_urlpatterns` with async views) are
    looked up in a dict; any other path under the prefixes (e.g. `/v1/models/<id>`) goes
    through Django's URL resolution, still without middleware.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        get_response = self._get_response_async  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(get_response)
        self._routes: dict[str, Any] | None = None
        self._hosts: dict[tuple[Any, Any], bool] = {}

    def routes(self) -> dict[str, Any]:
        if self._routes is None:
            from apps.inference.urls import root_urlpatterns

            # Wrapped as Django wraps every view: an unexpected exception becomes a 500.
            self._routes = {
                "/" + str(pattern.pattern): convert_exception_to_response(pattern.callback)
                for pattern in root_urlpatterns
                if isinstance(pattern, URLPattern)
                and not pattern.pattern.converters  # type: ignore[attr-defined]
                and asyncio.iscoroutinefunction(pattern.callback)
            }
        return self._routes

    def _host_allowed(self, request: Any) -> bool:
        """ALLOWED_HOSTS, as CommonMiddleware would check it; verdicts are remembered."""
        raw = (request.META.get("HTTP_HOST"), request.META.get("HTTP_X_FORWARDED_HOST"))
        verdict = self._hosts.get(raw)
        if verdict is None:
            try:
                request.get_host()
                verdict = True
            except DisallowedHost:
                verdict = False
            if len(self._hosts) > 1000:
                self._hosts.clear()
            self._hosts[raw] = verdict
        return verdict

    async def read_limited(self, request: Any, receive: Receive) -> bool:
        """Read the body into the request's (empty) stream; False, having stopped
        reading, when it is over DATA_UPLOAD_MAX_MEMORY_SIZE."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            return False
        # JSON bodies: memory, not the spooled temporary file Django opens per request.
        stream = request._stream
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                return False  # chunked: stop at the limit, whatever is still coming
            stream.write(chunk)
            if not message.get("more_body", False):
                stream.seek(0)
                return True

    async def send_response(self, response: Any, send: Send) -> None:
        # SecurityMiddleware sets this on Django's responses; the gateway has none.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        await super().send_response(response, send)

    async def _refuse(self, request: Any, error: GatewayError, send: Send) -> None:
        await self.send_response(error_response(protocol_of(request), error), send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope.get("root_path") or settings.FORCE_SCRIPT_NAME:
            set_script_prefix(get_script_prefix(scope))
        request, refused = self.create_request(scope, io.BytesIO())
        if request is None:
            assert refused is not None
            await self.send_response(refused, send)
            return
        if not self._host_allowed(request):
            await self.send_response(HttpResponse("Bad Request", status=400), send)
            return
        try:
            request.gateway_key = await authenticate(request)  # type: ignore[attr-defined]
        except GatewayError as exc:
            await self._refuse(request, exc, send)
            return
        except Exception:
            logger.exception("gateway authentication failed")
            await self._refuse(request, GatewayError(500, "Internal error in Seedbed."), send)
            return
        try:
            complete = await self.read_limited(request, receive)
        except RequestAborted:
            return
        if not complete:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
            too_big = GatewayError(
                413,
                f"The request body is over {limit / 1024 / 1024:g} MB "
                "(DATA_UPLOAD_MAX_MEMORY_SIZE); send less per request.",
            )
            await self._refuse(request, too_big, send)
            return
        view = self.routes().get(request.path_info) or self.run_get_response
        await self._serve(view, request, receive, send)

    async def _serve(self, response_for: Any, request: Any, receive: Receive, send: Send) -> None:
        """Answer, cancelling the view (and its upstream call or stream) if the client
        disconnects first: one listener task rather than Django's two tasks and a wait."""
        task = asyncio.current_task()
        assert task is not None
        answered = False

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not answered:
                        task.cancel()
                    return

        listener = asyncio.ensure_future(listen())
        response = None
        try:
            response = await response_for(request)
            if not response.streaming:
                answered = True  # a disconnect from here on changes nothing
            await self.send_response(response, send)
            answered = True
        except asyncio.CancelledError:
            if answered or listener.cancelled() or not listener.done():
                raise
            # Cancelled by the listener: the client is gone, there is nobody to answer.
        finally:
            listener.cancel()
            abandon = getattr(response, "gateway_abandon", None)
            if abandon is not None:
                await asyncio.shield(abandon())


class WithGateway:
    """Routes gateway paths to `GatewayHandler`, the rest to Django; runs the lifespan."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self.gateway = GatewayHandler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and is_gateway_path(scope["path"]):
            await self.gateway(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Everything loaded so far lives as long as the process: keep it out of
                # the collector's full passes (~100 ms each with Django loaded, measured
                # here), which would stall every call in flight.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await flush_all()
                except Exception:
                    logger.exception("queued history rows could not be written at shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return


def with_gateway(django_app: ASGIApp) -> ASGIApp:
    return WithGateway(django_app)
