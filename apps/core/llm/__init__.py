"""Seedbed's LLM client: OpenAI-style and Anthropic providers over one retry layer, with
cross-process limits in Redis and an SSRF guard in front of every call.

    client = LLMClient(config)
    result = await client.chat([{"role": "user", "content": "Hi"}], json_schema=schema)

From sync code (a Celery task, a Django view) use `run_sync(coroutine_function, ...)`:
under ASGI it reuses the server's loop, elsewhere it runs a private loop whose shared
HTTP client, Redis pool and leased concurrency slots are released when it ends (plain
`asyncio.run` does the same; a loop closed without `shutdown_asyncgens()` leaks them
until their leases expire). Errors are `LLMError` subclasses with a `user_message`.

Tools and thinking: `chat(..., tools=[{"name", "description", "parameters"}],
thinking_budget=4096)` on a provider whose config allows them (`ProviderConfig.tools`,
`.thinking`); `check_capabilities` says in advance whether it does (CapabilityError, a
ValueError, for a 400). `load_json_answer` reads a JSON answer, fenced or not;
`model_ids` / `model_ids_sync` is the one cache of a provider's model list.
"""

from .answers import JSONTooDeep, load_json_answer
from .capabilities import check_capabilities
from .client import LLMClient, list_models_sync
from .config import ChatChunk, ChatResult, ProviderConfig, ToolCall, Usage
from .errors import (
    CapabilityError,
    LLMError,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTimeout,
    ProviderUnreachable,
    ThinkingUnsupported,
    ToolsUnsupported,
)
from .guard import clear_guard_cache
from .limits import ProviderLimiter, estimate_tokens
from .model_lists import model_ids, model_ids_sync
from .slots import LimiterUnavailable
from .transport import aclose_loop_resources, http_client, run_sync

__all__ = [
    "CapabilityError",
    "ChatChunk",
    "ChatResult",
    "JSONTooDeep",
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
    "ThinkingUnsupported",
    "ToolCall",
    "ToolsUnsupported",
    "Usage",
    "aclose_loop_resources",
    "check_capabilities",
    "clear_guard_cache",
    "estimate_tokens",
    "http_client",
    "list_models_sync",
    "load_json_answer",
    "model_ids",
    "model_ids_sync",
    "run_sync",
]
