"""One shared HTTP client (and other loop-bound resources) per running event loop.

httpx's default transport collapses at ~64 concurrent requests on this hardware (see
design.md), so outbound calls use the httpx API over `httpx_aiohttp.AiohttpTransport`.

aiohttp sessions and redis.asyncio pools are bound to the loop that created them, and
Celery tasks call `asyncio.run` once per chunk, so resources are cached per loop, never
globally. They are closed when the loop shuts down: a tiny never-finished async generator
is registered with the loop, and `asyncio.run` (like asgiref's `async_to_sync`) calls
`loop.shutdown_asyncgens()` before closing the loop, which runs its `finally` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol, TypeVar

import aiohttp
import httpx
import yarl
from asgiref.sync import async_to_sync
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

from .guard import GuardedResolver

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Generous: per-provider concurrency is capped by the limiter, this only bounds the total.
POOL_LIMITS = httpx.Limits(
    max_connections=1024, max_keepalive_connections=1024, keepalive_expiry=30.0
)
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=60.0, pool=60.0)


class LoopState:
    """Resources owned by one event loop, closed (last created first) when it shuts down."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)
        self._resources: dict[str, Any] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._sentinel: AsyncGenerator[None, None] | None = None
        self.closed = False

    def get(self, name: str) -> Any:
        """The loop's instance of `name`, or None if it was not created yet."""
        return self._resources.get(name)

    def resource(self, name: str, factory: Callable[[], T]) -> T:
        """The loop's instance of `name`, created on first use; closed with the loop."""
        try:
            return self._resources[name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        if self.closed:
            raise RuntimeError("The event loop's LLM resources are already closed.")
        value = factory()
        self._resources[name] = value
        closer = getattr(value, "aclose", None)
        if closer is not None:
            self._closers.append(closer)
        return value

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        while self._closers:
            closer = self._closers.pop()
            try:
                await closer()
            except Exception:  # closing is best effort; one failure must not leak the rest
                logger.warning("closing an LLM loop resource failed", exc_info=True)
        self._resources.clear()


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_shutdown(state: LoopState) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        loop = state._loop_ref()
        if loop is not None and not loop.is_closed():
            await state.aclose()
        _forget(state)


def _forget(state: LoopState) -> None:
    loop = state._loop_ref()
    if loop is not None and _states.get(loop) is state:
        del _states[loop]
    # The sentinel references the loop through its finalizer: drop it to break the cycle.
    state._sentinel = None


def _step(awaitable: Any) -> None:
    # Drives a generator step that cannot suspend (no await before its yield / after
    # a closed loop), synchronously.
    with contextlib.suppress(StopIteration, StopAsyncIteration):
        awaitable.send(None)


def _sweep_closed_loops() -> None:
    # A loop closed without shutdown_asyncgens() (not asyncio.run) leaves its state behind;
    # finish its sentinel without touching the dead loop so it can be collected quietly.
    for loop, state in list(_states.items()):
        if loop.is_closed() and state._sentinel is not None:
            _step(state._sentinel.aclose())
            _forget(state)


def loop_state() -> LoopState:
    """The resources of the running loop (call from inside a coroutine)."""
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is not None and not state.closed:
        return state
    _sweep_closed_loops()
    state = LoopState(loop)
    sentinel = _close_at_shutdown(state)
    # __anext__() registers the generator with the loop's asyncgen hooks; stepping it
    # once parks it at its yield so aclose() at loop shutdown runs the finally block.
    _step(sentinel.__anext__())
    state._sentinel = sentinel
    _states[loop] = state
    return state


class HTTPReply(Protocol):
    """What the client reads from an answer: `httpx.Response` and `EagerResponse` both fit."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def is_success(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class EagerResponse:
    """A fully read answer: the few fields the client needs, nothing lazy."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class EagerAiohttpTransport(AiohttpTransport):
    """`AiohttpTransport` plus a lean path for small request/response JSON calls.

    Going through `httpx.AsyncClient.request` costs ~0.3 ms of CPU per call on this
    hardware (URL merging, header copies, stream wrappers, lazy decoding), which alone
    pushes a 64-way run far past its latency-bound ideal. `request_eager` sends through the
    same aiohttp session and connection pool and returns a fully read `EagerResponse`, at
    about the cost of bare aiohttp. Streaming keeps using the regular httpx client.
    """

    def get_client(self) -> aiohttp.ClientSession:
        # No cookie jar: one session serves every provider and project of the process,
        # and a cookie that one call's upstream sets must not ride along on the next.
        # The resolver checks every address before a connection is made to it (SSRF
        # guard against DNS rebinding, see guard.py).
        connector = aiohttp.TCPConnector(
            limit=POOL_LIMITS.max_connections or 0,
            keepalive_timeout=POOL_LIMITS.keepalive_expiry,
            ssl=self.ssl_context,
            resolver=GuardedResolver(),
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def request_eager(
        self,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> EagerResponse:
        session = self.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=False,
                timeout=timeout,
            ) as response:
                body = await response.read()
        except Exception as exc:
            # Errors surface as httpx exceptions, exactly as on the httpx path (mapped
            # here rather than around the block: a context manager per call costs).
            with map_aiohttp_exceptions():
                raise exc
        return EagerResponse(response.status, response.headers, body)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle takes ~30 ms, too
    much to repeat for every event loop (each Celery chunk runs its own)."""
    return httpx.create_ssl_context()


class SharedHTTP:
    """The loop's httpx client and the aiohttp transport (connection pool) under it."""

    def __init__(self) -> None:
        self.transport = EagerAiohttpTransport(verify=tls_context(), limits=POOL_LIMITS)
        self.client = httpx.AsyncClient(
            transport=self.transport,
            timeout=DEFAULT_TIMEOUT,
            follow_redirects=False,  # a redirect must not carry the API key to another host
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # keeps no cookie
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def shared_http() -> SharedHTTP:
    return loop_state().resource("http", SharedHTTP)


def http_client() -> httpx.AsyncClient:
    """The shared httpx client (aiohttp transport) of the running event loop."""
    return shared_http().client


async def aclose_loop_resources() -> None:
    """Close the running loop's shared clients now (they are recreated on next use)."""
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is not None:
        await state.aclose()
        if state._sentinel is not None:
            # Finishes the parked sentinel: its finally sees the state closed already.
            sentinel, state._sentinel = state._sentinel, None
            with contextlib.suppress(StopAsyncIteration):
                await sentinel.aclose()
        _forget(state)


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run an async function from sync code (a Django view, a Celery task).

    Under ASGI this reuses the server's loop (and its warm connections); elsewhere it runs
    a private loop whose shared clients are closed when it ends.
    """
    return async_to_sync(fn)(*args, **kwargs)
