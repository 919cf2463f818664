"""withpi's two job types and how each maps onto Seedbed: `generate` makes LLM inputs
(task type `inputs`), `generate_input_response_pairs` makes instruction → response
samples (task type `decoder`). A job is a run; its data items come from its samples."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.runs.models import RunStatus
from apps.specs.models import TaskType

# withpi's job states for a run's status.
STATES: dict[str, str] = {
    RunStatus.QUEUED: "QUEUED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.SUCCEEDED: "DONE",
    RunStatus.FAILED: "ERROR",
    RunStatus.CANCELLED: "CANCELLED",
}
STATUS_OF_STATE = {state: status for status, state in STATES.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def input_item(payload: Any) -> str:
    """An `inputs` sample as withpi's data item: the input's text."""
    return _text(payload.get("input")) if isinstance(payload, dict) else ""


def pair_item(payload: Any) -> dict[str, str]:
    """A decoder sample as withpi's `{llm_input, llm_output}` (its optional `input`
    follows the instruction, as a prompt would carry it)."""
    payload = payload if isinstance(payload, dict) else {}
    parts = [_text(payload.get("instruction")), _text(payload.get("input"))]
    return {
        "llm_input": "\n\n".join(part for part in parts if part),
        "llm_output": _text(payload.get("response")),
    }


@dataclass(frozen=True)
class JobKind:
    path: str  # under /v1/data/
    task_type: str
    noun: str  # what the items are called in status lines
    item: Callable[[Any], Any]


INPUTS = JobKind("generate", TaskType.INPUTS, "inputs", input_item)
PAIRS = JobKind("generate_input_response_pairs", TaskType.DECODER, "pairs", pair_item)
