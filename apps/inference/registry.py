"""Which models a project can call, and what a model id stands for.

Model ids are `<provider-name>/<model>` (the model part may itself contain slashes, as in
`vllm/Qwen/Qwen2.5-7B`), a bare `<provider-name>` for its default model, or one of the
project's aliases. A provider's own model list (`GET /models`) comes from the one model
list cache (apps.core.llm.model_lists: fresh for a minute, the last good list while the
provider cannot answer, a short pause after a failure); when it has never been listed,
its models are taken on trust and the provider itself answers for unknown ones.

The gateway resolves ids on every call, so `resolve` keeps its answers in-process for a
few seconds: the hot path makes no database or Redis round trip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import Http404

from apps.core.llm import LLMClient, run_sync
from apps.core.llm.model_lists import model_ids
from apps.core.llm.transport import loop_state
from apps.core.models import Project, Provider
from apps.core.selectors import provider_list
from apps.core.services import provider_config, provider_models_version

from .models import ModelAlias

logger = logging.getLogger(__name__)

RESOLVE_TTL = 5.0  # seconds a resolution is reused in-process; provider edits show after it
CACHE_LIMIT = 10_000
# Interactive callers retry themselves (the OpenAI and Anthropic SDKs do): one retry here,
# and a long Retry-After is handed back to the caller rather than slept through.
GATEWAY_MAX_ATTEMPTS = 2
GATEWAY_MAX_RETRY_AFTER = 5.0


class ModelNotFound(Http404):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"The model {model_id!r} does not exist or is not available here.")
        self.model_id = model_id


# Model UUIDs (Collinear's `model_id`) are uuid5 of the model id in this fixed namespace:
# the same id gets the same UUID across restarts, machines and releases.
MODEL_UUID_NAMESPACE = uuid.UUID("5eedbed0-c011-4ea2-9d1d-0de1a0000001")


def model_uuid(model_id: str) -> uuid.UUID:
    """The stable UUID of a model id (`<provider>/<model>`, `<provider>` or an alias)."""
    return uuid.uuid5(MODEL_UUID_NAMESPACE, model_id)


@dataclass(frozen=True)
class ModelEntry:
    id: str
    owned_by: str  # the provider's name
    provider_id: int
    upstream_model: str
    alias: bool = False

    @property
    def uuid(self) -> uuid.UUID:
        return model_uuid(self.id)

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": 0,
            "owned_by": self.owned_by,
            # For clients that name models by UUID (Collinear's model_id).
            "metadata": {"uuid": str(self.uuid)},
        }


@dataclass(frozen=True)
class Resolved:
    model_id: str
    provider: Provider
    upstream_model: str
    client: LLMClient


# ---- provider model lists (the shared cache) ------------------------------------------


async def provider_models(provider: Provider) -> list[str] | None:
    """The provider's own model ids, or None when it could not be listed; the same cache
    entries as run creation's (apps.core.services.provider_model_ids)."""
    return await model_ids(
        provider_config(provider=provider), version=provider_models_version(provider=provider)
    )


async def _listings(providers: list[Provider]) -> dict[int, list[str] | None]:
    found = await asyncio.gather(*(provider_models(p) for p in providers))
    return {p.pk: models for p, models in zip(providers, found, strict=True)}


# ---- the catalogue -------------------------------------------------------------------


def _load(project_id: int) -> tuple[list[Provider], list[ModelAlias]]:
    providers = list(provider_list(project=Project(pk=project_id)))
    aliases = list(ModelAlias.objects.filter(project_id=project_id).select_related("provider"))
    return providers, aliases


def _assemble(
    providers: list[Provider],
    aliases: list[ModelAlias],
    listings: dict[int, list[str] | None],
) -> list[ModelEntry]:
    entries: dict[str, ModelEntry] = {}
    for provider in providers:
        names = [provider.default_model] if provider.default_model else []
        names += listings.get(provider.pk) or []
        for name in names:
            model_id = f"{provider.name}/{name}"
            entries.setdefault(model_id, ModelEntry(model_id, provider.name, provider.pk, name))
    for alias in aliases:
        entries.setdefault(
            alias.alias,
            ModelEntry(alias.alias, alias.provider.name, alias.provider_id, alias.model, True),
        )
    return list(entries.values())


def model_list(project: Project) -> list[ModelEntry]:
    """Every model id the project can call (sync; may wait up to LISTING_TIMEOUT once)."""
    providers, aliases = _load(project.pk)
    listings = run_sync(_listings, providers)
    return _assemble(providers, aliases, listings)


async def amodel_list(project_id: int) -> list[ModelEntry]:
    providers, aliases = await sync_to_async(fresh_db(_load), thread_sensitive=False)(project_id)
    return _assemble(providers, aliases, await _listings(providers))


def model_by_uuid(project: Project, model_uuid_: uuid.UUID) -> ModelEntry:
    """The project's model whose UUID this is (as `model_list` shows it), or ModelNotFound."""
    for entry in model_list(project):
        if entry.uuid == model_uuid_:
            return entry
    raise ModelNotFound(str(model_uuid_))


# ---- resolution ----------------------------------------------------------------------


def _candidate(
    providers: list[Provider], aliases: list[ModelAlias], model_id: str
) -> tuple[Provider, str, bool]:
    """(provider, upstream model, whether the provider's list must confirm it)."""
    for alias in aliases:
        if alias.alias == model_id:
            return alias.provider, alias.model, False
    name, _, model = model_id.partition("/")
    provider = next((p for p in providers if p.name == name), None)
    if provider is None:
        raise ModelNotFound(model_id)
    if not model:
        if not provider.default_model:
            raise ModelNotFound(model_id)
        return provider, provider.default_model, False
    return provider, model, model != provider.default_model


def _confirmed(model: str, listed: list[str] | None) -> bool:
    return listed is None or model in listed


def model_resolve(project: Project, model_id: str) -> tuple[Provider, str]:
    """(Provider, upstream model) for a model id of the project; ModelNotFound (a 404)."""
    if not isinstance(model_id, str) or not model_id.strip():
        raise ModelNotFound(str(model_id))
    providers, aliases = _load(project.pk)
    provider, model, check = _candidate(providers, aliases, model_id.strip())
    if check and not _confirmed(model, run_sync(provider_models, provider)):
        raise ModelNotFound(model_id)
    return provider, model


_clients: dict[tuple[int, float], LLMClient] = {}


def client_for(provider: Provider) -> LLMClient:
    """The gateway's LLM client for a provider, reused while the provider is unchanged."""
    key = (provider.pk, provider.updated_at.timestamp() if provider.updated_at else 0.0)
    client = _clients.get(key)
    if client is None:
        if len(_clients) > CACHE_LIMIT:
            _clients.clear()
        config = dataclasses.replace(
            provider_config(provider=provider),
            max_attempts=GATEWAY_MAX_ATTEMPTS,
            max_retry_after=GATEWAY_MAX_RETRY_AFTER,
        )
        client = _clients[key] = LLMClient(config)
    return client


def fresh_db(fn: Any) -> Any:
    """Run `fn` on a worker thread's own connection, closed after: those threads see no
    request signals, so a kept connection would never be checked or recycled."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return wrapper


_resolved: dict[tuple[int, str], tuple[float, Resolved | None]] = {}


def _remember(key: tuple[int, str], value: Resolved | None) -> None:
    if len(_resolved) > CACHE_LIMIT:
        _resolved.clear()
    _resolved[key] = (time.monotonic() + RESOLVE_TTL, value)


async def resolve(project_id: int, model_id: str) -> Resolved:
    """`model_resolve` for the gateway: cached in-process for RESOLVE_TTL seconds (unknown
    ids too), so a steady stream of calls costs a dict lookup; concurrent misses for the
    same id share one lookup."""
    key = (project_id, model_id)
    cached = _resolved.get(key)
    if cached is not None and cached[0] > time.monotonic():
        if cached[1] is None:
            raise ModelNotFound(model_id)
        return cached[1]
    inflight: dict[tuple[int, str], asyncio.Task[Resolved]] = loop_state().resource(
        "inference:resolving", dict
    )
    task = inflight.get(key)
    if task is None:
        task = inflight[key] = asyncio.ensure_future(_lookup(project_id, model_id))
        task.add_done_callback(lambda _: inflight.pop(key, None))
    return await asyncio.shield(task)


async def _lookup(project_id: int, model_id: str) -> Resolved:
    key = (project_id, model_id)
    try:
        providers, aliases = await sync_to_async(fresh_db(_load), thread_sensitive=False)(
            project_id
        )
        provider, model, check = _candidate(providers, aliases, model_id)
        if check and not _confirmed(model, await provider_models(provider)):
            raise ModelNotFound(model_id)
    except ModelNotFound:
        _remember(key, None)
        raise
    found = Resolved(model_id, provider, model, client_for(provider))
    _remember(key, found)
    return found


def clear_caches() -> None:
    """Forget in-process resolutions and clients (tests; after editing providers)."""
    _resolved.clear()
    _clients.clear()
