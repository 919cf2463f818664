"""Models per role: which provider and model write outlines, drafts and judgements.

A role's model is given as a `provider/model` id (as `/v1/models` lists it), a model name
of the run's provider, or nothing (the generation model). A `-thinking` suffix turns
thinking on. The roles are resolved once, when the run is made, and kept in the run's
engine state, so renaming a provider later does not change a running run.
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError

from apps.core import selectors as core_selectors
from apps.core.models import Project, Provider
from apps.core.services import provider_require_model

ROLES = ("generation", "outline", "revision")
THINKING_SUFFIX = "-thinking"
# The budget a -thinking suffix asks for when the role's budget is not set.
DEFAULT_THINKING_BUDGET = 2048


@dataclass(frozen=True)
class RoleModel:
    provider_id: int
    provider_name: str
    model: str
    thinking_budget: int | None = None

    @property
    def label(self) -> str:
        thinking = f" (thinking {self.thinking_budget:,})" if self.thinking_budget else ""
        return f"{self.provider_name}/{self.model}{thinking}"


def _role_provider(project: Project, generation: Provider, model_id: str) -> tuple[Provider, str]:
    name, slash, rest = model_id.partition("/")
    if slash:
        named = core_selectors.provider_list(project=project).filter(name=name).first()
        if named is not None:
            return named, rest
    return generation, model_id


def roles_resolve(
    *, project: Project, provider: Provider, model: str, options: Any
) -> dict[str, RoleModel]:
    """Each role's provider, model and thinking budget; ValidationError names the field of
    a model no provider serves or a thinking budget the provider cannot take."""
    errors: dict[str, str] = {}
    roles: dict[str, RoleModel] = {}
    for role in ROLES:
        field = f"{role}_model"
        given = model if role == "generation" else getattr(options, field)
        budget = getattr(options, f"{role}_thinking_budget")
        if given.endswith(THINKING_SUFFIX):
            given = given.removesuffix(THINKING_SUFFIX)
            budget = budget or DEFAULT_THINKING_BUDGET
        if role == "generation":
            chosen, name = provider, given
        elif not given:
            base = roles["generation"]
            chosen, name = Provider(pk=base.provider_id, name=base.provider_name), base.model
        else:
            chosen, name = _role_provider(project, provider, given)
            try:
                provider_require_model(provider=chosen, model=name)
            except ValidationError as exc:
                errors[field] = " ".join(exc.message_dict.get("model", exc.messages))
                continue
        roles[role] = RoleModel(chosen.pk, chosen.name, name, budget)
        if budget and _provider_thinking(roles[role]) == "none":
            errors[f"{role}_thinking_budget"] = (
                f"Provider {chosen.name} has no thinking option; set one on its page "
                "(Anthropic or OpenAI reasoning) or leave the budget empty."
            )
    if options.tools and not provider.supports_tools:
        errors["tools"] = (
            f"Provider {provider.name} cannot call tools; choose a provider that can, or no tools."
        )
    if errors:
        raise ValidationError(errors)
    return roles


def _provider_thinking(role: RoleModel) -> str:
    return str(Provider.objects.values_list("thinking", flat=True).get(pk=role.provider_id))


def roles_dump(roles: dict[str, RoleModel]) -> dict[str, Any]:
    return {role: asdict(chosen) for role, chosen in roles.items()}


def roles_load(stored: dict[str, Any]) -> dict[str, RoleModel]:
    return {role: RoleModel(**values) for role, values in stored.items()}
