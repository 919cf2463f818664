"""Dataframer model names (`anthropic/claude-haiku-4-5`, `-thinking` for thinking on)
resolved through the project's model ids and aliases (apps.inference.registry).

A name is first looked up as it is (a `<provider>/<model>` id, or an alias). Aliases
cannot hold a slash, so `anthropic/claude-haiku-4-5` then stands for the alias
`claude-haiku-4-5` when the project has one: a team maps each Dataframer model name it
uses onto one of its own models on the Models page."""

from dataclasses import dataclass
from typing import Any

from apps.core import selectors as core_selectors
from apps.core.models import Project, Provider
from apps.inference.models import ModelAlias
from apps.inference.registry import ModelNotFound, model_list, model_resolve
from apps.runs.engines.roles import THINKING_SUFFIX
from apps.runs.selectors import usual_provider_id

from .errors import bad_request

SHOWN_NAMES = 30


@dataclass(frozen=True)
class ResolvedModel:
    provider: Provider
    model: str  # the provider's own name for it
    thinking: bool

    @property
    def run_model(self) -> str:
        """As a run's generation model: the provider's name, `-thinking` kept."""
        return self.model + (THINKING_SUFFIX if self.thinking else "")

    @property
    def role_model(self) -> str:
        """As an outline or revision model: `<provider>/<model>`, `-thinking` kept."""
        return f"{self.provider.name}/{self.run_model}"

    @property
    def label(self) -> str:
        return self.role_model


def _known(project: Project) -> str:
    names = sorted(entry.id for entry in model_list(project))
    shown = ", ".join(names[:SHOWN_NAMES]) or "none (add a provider or an alias)"
    more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
    return shown + more


def model_named(*, project: Project, name: Any, field: str) -> ResolvedModel:
    """The provider and model a name stands for; 400 naming `field` and the model names
    that exist when it stands for none."""
    if not isinstance(name, str) or not name.strip():
        raise bad_request(field, "Give a model name as text, e.g. 'anthropic/claude-haiku-4-5'.")
    name = name.strip()
    thinking = name.endswith(THINKING_SUFFIX)
    base = name.removesuffix(THINKING_SUFFIX)
    try:
        provider, model = model_resolve(project, base)
    except ModelNotFound as exc:
        _, _, short = base.partition("/")
        alias = ModelAlias.objects.filter(project=project, alias=short).select_related("provider")
        found = alias.first() if short else None
        if found is None:
            raise bad_request(
                field, f"Unknown model {name!r}. Models of this project: {_known(project)}."
            ) from exc
        provider, model = found.provider, found.model
    return ResolvedModel(provider, model, thinking)


def model_default(*, project: Project, field: str) -> ResolvedModel:
    """The project's usual model when a request names none."""
    provider = core_selectors.provider_for_model(project=project, model_id="")
    usual = usual_provider_id(project)
    if (provider is None or not provider.default_model) and usual is not None:
        provider = core_selectors.provider_list(project=project).filter(pk=usual).first()
    if provider is None or not provider.default_model:
        raise bad_request(field, "Name a model: this project has no default one.")
    return ResolvedModel(provider, provider.default_model, False)


def model_choose(*, project: Project, name: Any, field: str) -> ResolvedModel:
    if name is None:
        return model_default(project=project, field=field)
    return model_named(project=project, name=name, field=field)
