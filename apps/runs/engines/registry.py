"""The engines by name (`Run.engine`), and the one interface they share."""

from typing import Any, Protocol

from apps.core.jobs import Outcome
from apps.core.options import settings_load
from apps.runs.models import Run

from .local import LocalEngine


class Engine(Protocol):
    name: str

    @property
    def settings(self) -> type:
        """The dataclass of the engine's declared settings (apps/core/options.py)."""

    def step(self, run: Run, *, step: int) -> Outcome: ...


ENGINES: dict[str, Engine] = {engine.name: engine for engine in (LocalEngine(),)}
DEFAULT_ENGINE = "local"


def engine_for(run: Run) -> Engine:
    return ENGINES[run.engine]


def settings_of(run: Run) -> Any:
    """The run's settings as its engine declares them (defaults for any added since)."""
    return settings_load(engine_for(run).settings, run.settings)
