"""Request bodies on Django's paths: capped while they stream in, and only read past a
small allowance for a caller who is signed in or sends a valid API key.

Django's ASGI handler reads the whole body (to a spooled temporary file) before any
middleware or view runs, so a view's authentication comes too late to spare the server
a 400 MB upload from anyone. This wrapper sits in front of it: a Content-Length over
REQUEST_BODY_MAX_BYTES is a 413 before a byte is read; a chunked body is cut off there;
past ANONYMOUS_BODY_BYTES the caller's session or API key is checked (one query, only
for big bodies) and an anonymous one gets a 401. The gateway's paths have their own,
stricter reading (apps/inference/gateway/asgi.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.http.cookie import parse_cookie

from . import selectors
from .authentication import raw_api_key

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

# Sign-in and the other forms an anonymous visitor can send are a few hundred bytes.
ANONYMOUS_BODY_BYTES = 64 * 1024


class BodyRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _credentials_valid(raw_key: str | None, session_key: str | None) -> bool:
    try:
        if raw_key is not None:
            return selectors.api_key_authenticate(raw_key=raw_key) is not None
        if session_key:
            engine = import_module(settings.SESSION_ENGINE)
            return engine.SessionStore(session_key).get(SESSION_KEY) is not None
        return False
    finally:
        # A worker thread never sees request signals: do not keep its connection.
        connection.close()


def _credentials(headers: dict[bytes, bytes]) -> tuple[str | None, str | None]:
    """The API key (as apps.core.authentication reads it) and the session cookie."""
    key = raw_api_key(
        headers.get(b"x-api-key", b"").decode("latin-1"),
        headers.get(b"authorization", b"").decode("latin-1"),
    )
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    return key, cookies.get(settings.SESSION_COOKIE_NAME)


class LimitedBody:
    """The `receive` Django's handler reads the body through."""

    def __init__(self, scope: Any, receive: Any) -> None:
        self.headers = dict(scope["headers"])
        self.receive = receive
        self.limit = settings.REQUEST_BODY_MAX_BYTES
        self.size = 0
        self.vouched = False
        try:
            self.declared = int(self.headers.get(b"content-length", b"0"))
        except ValueError:
            self.declared = 0

    async def check_declared(self) -> None:
        """Refuse what the headers already say is too big or not allowed."""
        if self.declared > self.limit:
            raise self.too_big()
        if self.declared > ANONYMOUS_BODY_BYTES:
            await self.vouch()

    async def vouch(self) -> None:
        if self.vouched:
            return
        check = sync_to_async(_credentials_valid, thread_sensitive=False)
        if not await check(*_credentials(self.headers)):
            raise BodyRefused(
                401,
                f"Sign in or send an API key to send a body over {ANONYMOUS_BODY_BYTES // 1024}"
                " kB.",
            )
        self.vouched = True

    def too_big(self) -> BodyRefused:
        return BodyRefused(
            413,
            f"The request body is over {self.limit / 1024 / 1024:g} MB (REQUEST_BODY_MAX_BYTES).",
        )

    async def __call__(self) -> dict[str, Any]:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                raise self.too_big()
            if self.size > ANONYMOUS_BODY_BYTES:
                await self.vouch()
        return dict(message)


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = LimitedBody(scope, receive)
        refused: BodyRefused | None = None
        try:
            await body.check_declared()
        except BodyRefused as exc:
            refused = exc
        if refused is None:
            # Django reads the whole body before anything else, so a refusal surfaces
            # while it reads: Django is told the client left, and the refusal is sent.
            async def guarded_receive() -> dict[str, Any]:
                nonlocal refused
                if refused is not None:
                    return {"type": "http.disconnect"}
                try:
                    return await body()
                except BodyRefused as exc:
                    refused = exc
                    return {"type": "http.disconnect"}

            await self.app(scope, guarded_receive, send)
        if refused is not None:
            await _send_refusal(send, refused)


async def _send_refusal(send: Any, refused: BodyRefused) -> None:
    content = json.dumps({"detail": refused.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        (b"x-content-type-options", b"nosniff"),
        # The rest of the body was not read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    if refused.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="seedbed"'))
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def limit_bodies(app: ASGIApp) -> ASGIApp:
    return BodyLimit(app)
