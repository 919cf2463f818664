"""Small helpers for tests that drive the async LLM client from sync test functions."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`, in a helper thread when this thread already runs a loop
    (Playwright's sync API leaves one running in the test thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return in_thread(asyncio.run, coro)


def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Call `fn(*args)` in a fresh thread (one without an event loop) and return its result."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()
