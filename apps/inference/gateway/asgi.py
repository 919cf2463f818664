"""A lean ASGI path for the gateway's URLs, in front of Django's own handler.

Under ASGI, Django runs every request in a fresh thread-sensitive context (a new thread
per request for sync work) and every `MiddlewareMixin` middleware hops to that thread
for its hooks; with this project's middleware stack a trivial async view cost ~4 ms of
CPU per request (measured on 2 cores), i.e. at most ~250 requests/s per core. Gateway
calls need none of that middleware (no sessions, cookies, CSRF or messages: they
authenticate with API keys), so requests under GATEWAY_PREFIXES go to a handler with no
middleware and no thread hops; they are still ordinary Django async views resolved by
the root URLconf. Everything else, and the ASGI lifespan, goes to Django as before.

The lifespan shutdown writes the history rows still queued (see recording.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse
from django.urls import set_script_prefix

from apps.inference.recording import flush_all

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


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler without middleware, request signals or thread hops."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        get_response = self._get_response_async  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(get_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                assert error_response is not None
                await self.send_response(error_response, send)
                return
            try:
                request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it
            except DisallowedHost:
                await self.send_response(HttpResponse("Bad Request", status=400), send)
                return
            await self._serve(request, receive, send)
        finally:
            body_file.close()

    async def _serve(self, request: Any, receive: Receive, send: Send) -> None:
        async def process() -> None:
            response = await self.run_get_response(request)
            await self.send_response(response, send)

        # As Django does: a client that disconnects cancels the view (and its stream).
        listener = asyncio.ensure_future(self.listen_for_disconnect(receive))
        worker = asyncio.ensure_future(process())
        try:
            await asyncio.wait([listener, worker], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listener, worker):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await task


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
