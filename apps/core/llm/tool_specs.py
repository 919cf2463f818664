"""Tools that generation runs can offer to models, by name (`tools=["calculator"]`).

Each `Tool` has a provider-neutral `spec` (name, description, JSON schema of the
arguments; the dialects turn it into OpenAI `tools` or Anthropic `tools` entries) and
`run(arguments)`, which takes the model's arguments (OpenAI's JSON string, or Anthropic's
already-parsed `input` object) and always answers with text for the model: the result, or
"Error: ..." for arguments it cannot use. It raises only for programmer errors.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .calculator import DEFAULT_LIMITS, FUNCTION_NAMES, calculate

# Arguments longer than this are not parsed (an expression is at most 500 characters).
MAX_ARGUMENTS_CHARS = 10_000

CALCULATOR_TOOL: dict[str, Any] = {
    "name": "calculator",
    "description": (
        "Evaluate an arithmetic expression and return the result as text (integers "
        "are exact up to about 10**1000, other numbers are 64-bit floats). "
        "Supports numbers, + - * / // % ** (power; ^ is not power), parentheses, "
        "comparisons (< <= > >= == !=), the functions "
        f"{', '.join(FUNCTION_NAMES)} (log(x) is natural, log(x, base) any base; "
        "angles in radians; round(x, digits)) and the constants pi and e. "
        "No variables. Example: sqrt(2) * (3 + 4)**2"
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "The expression to evaluate, e.g. 12.5 * (3 + 4)**2 / 100",
                "maxLength": DEFAULT_LIMITS.max_length,
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class Tool:
    spec: dict[str, Any]
    # Called with the parsed arguments, which have every required property.
    handler: Callable[[dict[str, Any]], Awaitable[str]]

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    async def run(self, arguments_json: str | Mapping[str, Any]) -> str:
        """The text the model is shown; "Error: ..." for arguments it cannot use."""
        arguments = _parse_arguments(arguments_json, self.spec)
        if isinstance(arguments, str):
            return arguments
        return await self.handler(arguments)


def _parse_arguments(raw: str | Mapping[str, Any], spec: dict[str, Any]) -> dict[str, Any] | str:
    """The arguments as a dict, or an error text for the model."""
    required: list[str] = spec["parameters"].get("required", [])
    example = "{" + ", ".join(f'"{name}": "..."' for name in required) + "}"
    if isinstance(raw, Mapping):
        arguments: Any = dict(raw)
    elif isinstance(raw, str):
        if len(raw) > MAX_ARGUMENTS_CHARS:
            return f"Error: the arguments are too long (max {MAX_ARGUMENTS_CHARS} characters)"
        if not raw.strip():
            arguments = {}
        else:
            try:
                arguments = json.loads(raw)
            except (ValueError, RecursionError):
                return f"Error: the arguments are not valid JSON; send an object like {example}"
    else:
        raise TypeError(f"arguments must be a JSON string or a mapping, not {type(raw).__name__}")
    if not isinstance(arguments, dict):
        return f"Error: the arguments must be a JSON object like {example}"
    missing = [name for name in required if name not in arguments]
    if missing:
        return f"Error: missing required argument '{missing[0]}'; send an object like {example}"
    return arguments


async def _run_calculator(arguments: dict[str, Any]) -> str:
    expression = arguments["expression"]
    if isinstance(expression, int | float) and not isinstance(expression, bool):
        expression = repr(expression)  # a model that sent {"expression": 42}
    if not isinstance(expression, str):
        return "Error: 'expression' must be a string, e.g. \"2*(3+4)\""
    return (await calculate(expression)).text


calculator_tool = Tool(spec=CALCULATOR_TOOL, handler=_run_calculator)

TOOLS: dict[str, Tool] = {tool.name: tool for tool in (calculator_tool,)}
