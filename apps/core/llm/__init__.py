"""Seedbed's LLM client: OpenAI-style and Anthropic providers over one retry layer, with
cross-process limits in Redis and an SSRF guard in front of every call.

    client = LLMClient(config)
    result = await client.chat([{"role": "user", "content": "Hi"}], json_schema=schema)

From sync code (a Celery task, a Django view) use `run_sync(coroutine_function, ...)`:
under ASGI it reuses the server's loop, elsewhere it runs a private loop whose shared
HTTP client, Redis pool and leased concurrency slots are released when it ends (plain
`asyncio.run` does the same; a loop closed without `shutdown_asyncgens()` leaks them
until their leases expire). Errors are `LLMError` subclasses with a `user_message`.
"""

from .client import LLMClient, list_models_sync
from .config import ChatChunk, ChatResult, ProviderConfig, Usage
from .errors import (
    LLMError,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTimeout,
    ProviderUnreachable,
)
from .guard import clear_guard_cache
from .limits import ProviderLimiter, estimate_tokens
from .slots import LimiterUnavailable
from .transport import aclose_loop_resources, http_client, run_sync

__all__ = [
    "ChatChunk",
    "ChatResult",
    "LLMClient",
    "LLMError",
    "LimiterUnavailable",
    "ProviderAuthError",
    "ProviderBadResponse",
    "ProviderConfig",
    "ProviderHTTPError",
    "ProviderLimiter",
    "ProviderRateLimited",
    "ProviderRefused",
    "ProviderTimeout",
    "ProviderUnreachable",
    "Usage",
    "aclose_loop_resources",
    "clear_guard_cache",
    "estimate_tokens",
    "http_client",
    "list_models_sync",
    "run_sync",
]
