"""Writes for projects, memberships, API keys and providers."""

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .allowlist import allowlist_changed, entry_text, parse_entry
from .llm.config import ProviderConfig
from .llm.guard import clear_guard_cache
from .models import (
    KIND_CAPABILITIES,
    AllowedPrivateHost,
    ApiKey,
    Membership,
    Project,
    Provider,
    ProviderKind,
    Role,
    StructuredOutput,
    Thinking,
)
from .urlguard import Reach, UnsafeURLError, check_provider_url, classify, parse_ip

API_KEY_PREFIX = "sb_"
EMBEDDED_PROVIDER_NAME = "embedded"


def require_editor(membership: Membership) -> None:
    """Viewers may look but not start or change anything."""
    if not membership.can_edit:
        raise PermissionDenied("Viewers cannot change this project.")


def require_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER:
        raise PermissionDenied("Only project owners can do this.")


# --- users, projects, memberships ----------------------------------------------------


def user_create(
    *, username: str, password: str, email: str = "", is_superuser: bool = False
) -> User:
    users = get_user_model()
    if users.objects.filter(username=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    try:
        # AUTH_PASSWORD_VALIDATORS, as the admin and `changepassword` apply them.
        validate_password(password, user=users(username=username, email=email))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    if is_superuser:
        return users.objects.create_superuser(username=username, email=email, password=password)
    return users.objects.create_user(username=username, email=email, password=password)


@transaction.atomic
def project_create(*, name: str, owner: User | None = None) -> Project:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    base = slugify(name)[:100] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    project = Project.objects.create(name=name, slug=slug)
    if owner is not None:
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    provider_ensure_embedded(project=project)
    return project


def membership_set(*, project: Project, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


# --- API keys ------------------------------------------------------------------------


def api_key_hash(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, membership: Membership, name: str) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and never stored."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name, e.g. 'CI' or 'notebook'."})
    if len(name) > 100:
        raise ValidationError({"name": "Key names are at most 100 characters."})
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        project=membership.project,
        user=membership.user,
        name=name,
        prefix=raw[:10],
        key_hash=api_key_hash(raw),
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once a minute, so authentication stays a read."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


# --- providers -----------------------------------------------------------------------

PROVIDER_FIELDS = (
    "name",
    "kind",
    "base_url",
    "default_model",
    "structured_output",
    "requests_per_minute",
    "tokens_per_minute",
    "max_concurrency",
    "timeout_seconds",
    "thinking",
    "supports_tools",
)


def _provider_validate(provider: Provider) -> None:
    try:
        check_provider_url(provider.base_url)
    except UnsafeURLError as exc:
        raise ValidationError({"base_url": str(exc)}) from exc
    if not 1 <= provider.max_concurrency <= 1024:
        raise ValidationError({"max_concurrency": "Max concurrency must be 1..1024."})
    if not 0 < provider.timeout_seconds <= 3600:
        raise ValidationError({"timeout_seconds": "Timeout must be 0..3600 seconds."})
    if provider.thinking not in Thinking.values:
        raise ValidationError(
            {"thinking": f"Thinking must be one of {', '.join(Thinking.values)}."}
        )
    clash = Provider.objects.filter(project=provider.project, name=provider.name)
    if clash.exclude(pk=provider.pk).exists():
        raise ValidationError({"name": f"This project already has a provider {provider.name!r}."})


def provider_capability_defaults(*, kind: str) -> dict[str, Any]:
    """What a new provider of `kind` can do unless told otherwise."""
    thinking, tools = KIND_CAPABILITIES.get(kind, (Thinking.NONE, False))
    return {"thinking": thinking, "supports_tools": tools}


def provider_create(*, membership: Membership, api_key: str = "", **fields: Any) -> Provider:
    """Create a provider; `thinking` and `supports_tools` left out (or None, or "" for
    thinking) take the defaults of its kind."""
    require_editor(membership)
    unknown = set(fields) - set(PROVIDER_FIELDS)
    if unknown:
        raise TypeError(f"Unknown provider fields: {sorted(unknown)}")
    for name, default in provider_capability_defaults(kind=fields.get("kind", "")).items():
        if fields.get(name) in (None, ""):
            fields[name] = default
    provider = Provider(project=membership.project, api_key=api_key, **fields)
    _provider_validate(provider)
    provider.save()
    return provider


def provider_update(
    *, membership: Membership, provider: Provider, api_key: str | None = None, **fields: Any
) -> Provider:
    """Update a provider; `api_key=None` keeps the stored key, "" clears it."""
    require_editor(membership)
    for field, value in fields.items():
        if field not in PROVIDER_FIELDS:
            raise TypeError(f"Unknown provider field: {field}")
        setattr(provider, field, value)
    if api_key is not None:
        provider.api_key = api_key
    _provider_validate(provider)
    provider.save()
    return provider


def provider_delete(*, membership: Membership, provider: Provider) -> None:
    require_editor(membership)
    provider.delete()


def provider_ensure_embedded(*, project: Project) -> Provider:
    """Every project gets the embedded llama.cpp server as a provider."""
    provider, _ = Provider.objects.get_or_create(
        project=project,
        name=EMBEDDED_PROVIDER_NAME,
        defaults={
            "kind": ProviderKind.EMBEDDED,
            "base_url": settings.EMBEDDED_LLM_URL,
            "default_model": settings.EMBEDDED_LLM_MODEL,
            "structured_output": StructuredOutput.JSON_OBJECT_SCHEMA,
            "max_concurrency": 2,
            "timeout_seconds": 120.0,
            **provider_capability_defaults(kind=ProviderKind.EMBEDDED),
        },
    )
    return provider


def provider_config(*, provider: Provider) -> ProviderConfig:
    """What the LLM client needs, decrypted; never log the result."""
    return ProviderConfig(
        key=f"provider:{provider.pk}",
        kind=provider.kind,
        base_url=provider.base_url,
        api_key=provider.api_key or "",
        default_model=provider.default_model,
        structured_output=provider.structured_output,
        requests_per_minute=provider.requests_per_minute,
        tokens_per_minute=provider.tokens_per_minute,
        max_concurrency=provider.max_concurrency,
        timeout_seconds=provider.timeout_seconds,
        thinking=provider.thinking,
        tools=provider.supports_tools,
        name=provider.name,
    )


def provider_test(*, membership: Membership, provider: Provider) -> list[str]:
    """Test connection, for editors only: it calls out with the provider's secret, to a
    base URL only editors can change."""
    require_editor(membership)
    return provider_test_connection(provider=provider)


def provider_test_connection(*, provider: Provider) -> list[str]:
    """List the provider's models; raises apps.core.llm.errors.LLMError on failure."""
    from .llm.client import list_models_sync

    return list_models_sync(provider_config(provider=provider))


# How long a listed model list stays fresh, when set (tests: 0 asks every time); None is
# the one cache's own rule (apps.core.llm.model_lists), which the gateway follows too.
MODEL_LIST_SECONDS: float | None = None
SHOWN_MODELS = 10


def provider_models_version(*, provider: Provider) -> str:
    """Which edit of the provider a cached model list belongs to."""
    return f"{provider.updated_at.timestamp():.6f}" if provider.updated_at else "0"


def provider_model_ids(*, provider: Provider) -> list[str] | None:
    """The models the provider lists, from the one model list cache (fresh for a minute;
    while the provider cannot answer, the last list it gave, since llama.cpp answers
    nothing while it generates but its last list still tells a typo from a model), or
    None when it never could say: unreachable, refused or without a model list."""
    from .llm.model_lists import model_ids_sync

    return model_ids_sync(
        provider_config(provider=provider),
        version=provider_models_version(provider=provider),
        fresh_seconds=MODEL_LIST_SECONDS,
    )


def provider_require_model(*, provider: Provider, model: str) -> None:
    """Refuse a model name the provider does not list (llama.cpp, for one, would answer
    with its own model whatever the name). Ollama's `name` stands for `name:latest`."""
    served = provider_model_ids(provider=provider)
    if served is None or model in served or f"{model}:latest" in served:
        return
    shown = ", ".join(served[:SHOWN_MODELS]) or "none"
    if len(served) > SHOWN_MODELS:
        shown += f" and {len(served) - SHOWN_MODELS} more"
    raise ValidationError(
        {"model": f"Provider {provider.name} does not serve {model!r}; it lists: {shown}."}
    )


# --- private hosts providers may use (superusers, in the admin) -----------------------


def allowed_private_host_clean(*, entry: str) -> str:
    """`entry` in its stored form; a malformed entry or a metadata address is refused."""
    try:
        host, port = parse_entry(entry)
    except ValueError as exc:
        raise ValidationError({"host": str(exc)}) from exc
    try:
        reach = classify(parse_ip(host))
    except ValueError:
        reach = None  # a host name: what it resolves to is checked at every connection
    if reach is Reach.METADATA:
        raise ValidationError(
            {"host": f"{host} is a link-local or cloud metadata address: never allowed."}
        )
    return entry_text(host, port)


def allowed_private_host_save(*, row: AllowedPrivateHost, user: User) -> AllowedPrivateHost:
    if not user.is_superuser:
        raise PermissionDenied("Only superusers manage the allowed private hosts.")
    row.host = allowed_private_host_clean(entry=row.host)
    if row.pk is None:
        row.created_by = user
    row.save()
    _allowlist_changed()
    return row


def allowed_private_host_delete(*, rows: Iterable[AllowedPrivateHost], user: User) -> None:
    if not user.is_superuser:
        raise PermissionDenied("Only superusers manage the allowed private hosts.")
    AllowedPrivateHost.objects.filter(pk__in=[row.pk for row in rows]).delete()
    _allowlist_changed()


def _allowlist_changed() -> None:
    # Now for this process, and again at commit: another process could otherwise cache
    # the old rows between this moment and the commit.
    allowlist_changed()
    transaction.on_commit(allowlist_changed)
    clear_guard_cache()
