"""Reads that enforce tenancy: every query for project-owned objects goes through here.

Objects of a project the caller is not a member of are reported as missing (404), never
as forbidden, so their existence does not leak.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404

from .inputs import check_storable
from .models import ApiKey, Membership, ModelPrice, Project, Provider
from .pricing import Price

AnyUser = User | AnonymousUser


def project_list_for_user(*, user: AnyUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).order_by("name")


def membership_get(*, user: AnyUser, project_id: int) -> Membership:
    """The caller's membership in a project, or 404."""
    if not user.is_authenticated:
        raise Http404("No such project.")
    try:
        return Membership.objects.select_related("project").get(user=user, project_id=project_id)
    except Membership.DoesNotExist as exc:
        raise Http404("No such project.") from exc


def membership_default(*, user: AnyUser) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("project")
        .filter(user=user)
        .order_by("project__name")
        .first()
    )


def provider_list(*, project: Project) -> QuerySet[Provider]:
    return Provider.objects.filter(project=project).order_by("name")


def provider_list_with_prices(*, project: Project) -> QuerySet[Provider]:
    """The project's providers, each with its `prices` fetched (two queries in all)."""
    prices = Prefetch("prices", queryset=ModelPrice.objects.order_by("model"))
    return provider_list(project=project).prefetch_related(prices)


def provider_for_model(*, project: Project, model_id: str) -> Provider | None:
    """The provider a `provider/model` id names (as run pages and `/v1/models` show it),
    else the project's embedded one. A part before the slash that names no provider of
    the project belongs to the model's own name (`meta-llama/Llama-3.1-8B`)."""
    providers = provider_list(project=project)
    name, slash, _ = model_id.strip().partition("/")
    named = providers.filter(name=name).first() if slash else None
    return named or providers.filter(name="embedded").first()


def provider_get(*, project: Project, provider_id: int) -> Provider:
    try:
        return provider_list(project=project).get(pk=provider_id)
    except Provider.DoesNotExist as exc:
        raise Http404("No such provider.") from exc


# --- prices --------------------------------------------------------------------------


def price_list(*, provider: Provider) -> QuerySet[ModelPrice]:
    """A provider's prices (the provider comes from `provider_get`, so from the caller's
    project)."""
    return ModelPrice.objects.filter(provider=provider).order_by("model")


def price_get(*, provider: Provider, model: str) -> ModelPrice:
    """A provider's price of one model (`model` or `<provider>/model`), or 404."""
    name = provider.own_model_name(model)
    try:
        check_storable(name)  # a NUL cannot be stored, so no price has one
        return price_list(provider=provider).get(model=name)
    except (ValueError, ModelPrice.DoesNotExist) as exc:
        raise Http404(f"Provider {provider.name} has no price for this model.") from exc


def prices_for(*, provider_ids: Iterable[int]) -> dict[tuple[int, str], Price]:
    """The prices of these providers' models by (provider id, model name), in one query.
    For the engine, which has its providers from the run; a model missing here has no
    price (its cost is unknown, see apps/core/pricing.py)."""
    rows = ModelPrice.objects.filter(provider_id__in=list(provider_ids)).values_list(
        "provider_id", "model", "input_per_million", "output_per_million"
    )
    return {(pid, model): Price(inp, out) for pid, model, inp, out in rows}


def api_key_list(*, project: Project, user: AnyUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(project=project, user_id=user.pk or 0).order_by("-created_at")


def api_key_get(*, project: Project, user: AnyUser, key_id: int) -> ApiKey:
    try:
        return api_key_list(project=project, user=user).get(pk=key_id)
    except ApiKey.DoesNotExist as exc:
        raise Http404("No such API key.") from exc


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key whose hash matches, with its user and project. A key is only as
    good as its user's membership: removed from the project, the user's keys stop."""
    from .services import api_key_hash

    member = Membership.objects.filter(project=OuterRef("project_id"), user=OuterRef("user_id"))
    return (
        ApiKey.objects.select_related("user", "project")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .filter(Exists(member))
        .first()
    )
