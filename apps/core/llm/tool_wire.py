"""Tools and conversation turns on each wire format.

Callers speak one neutral shape, OpenAI's:

* a tool spec is `{"name", "description", "parameters": <JSON schema>}`;
* an assistant message may carry `tool_calls`:
  `[{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}]`
  (and, after an Anthropic answer with thinking, `thinking_blocks`: see
  `ChatResult.assistant_message`);
* a tool's result is `{"role": "tool", "tool_call_id": ..., "content": ...}`.

The OpenAI dialect sends that as is (tools wrapped as `{"type": "function", ...}`). For
Anthropic, tool specs become `{"name", "description", "input_schema"}`, assistant tool
calls become `tool_use` blocks, and consecutive tool results become ONE user message of
`tool_result` blocks, as the Messages API requires (Data Designer maps them the same way).
"""

from __future__ import annotations

import json
from typing import Any

from .config import ToolCall
from .errors import ProviderBadResponse

EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _spec(tool: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"A tool spec needs a name: {tool!r}")
    parameters = tool.get("parameters")
    return name, str(tool.get("description") or ""), parameters or EMPTY_SCHEMA


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wire = []
    for tool in tools:
        name, description, parameters = _spec(tool)
        function = {"name": name, "description": description, "parameters": parameters}
        wire.append({"type": "function", "function": function})
    return wire


def anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wire = []
    for tool in tools:
        name, description, parameters = _spec(tool)
        wire.append({"name": name, "description": description, "input_schema": parameters})
    return wire


def _arguments(raw: Any) -> dict[str, Any]:
    # Anthropic wants an object; arguments a model wrote that do not parse to one go back
    # as {} (the tool's result, produced by the caller, says what was wrong with them).
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {}


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        block for block in message.get("thinking_blocks") or () if isinstance(block, dict)
    ]
    text = text_of(message.get("content"))
    if text:  # Anthropic refuses an empty text block
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": _arguments(function.get("arguments")),
            }
        )
    return blocks


def anthropic_turns(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, Messages API turns) for neutral messages."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the open user turn of tool results
    for message in messages:
        role = message.get("role")
        if role == "system":
            system.append(text_of(message.get("content")))
            continue
        if role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or ""),
                "content": text_of(message.get("content")),
            }
            if results is None:
                results = [block]
                turns.append({"role": "user", "content": results})
            else:
                results.append(block)
            continue
        results = None
        if role == "assistant" and (message.get("tool_calls") or message.get("thinking_blocks")):
            turns.append({"role": "assistant", "content": _assistant_blocks(message)})
        else:
            turns.append({"role": role, "content": message.get("content")})
    return system, turns


def openai_tool_calls(raw: Any) -> list[ToolCall]:
    """The tool calls of an OpenAI-style message (`message.tool_calls`)."""
    if not isinstance(raw, list):
        raise ProviderBadResponse(
            "The provider's answer was not understood: tool_calls is not a list."
        )
    calls = []
    for number, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ProviderBadResponse(
                "The provider's answer was not understood: a tool call has no function name."
            )
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send an object, not its JSON text
            arguments = json.dumps(arguments, ensure_ascii=False)
        elif not isinstance(arguments, str):
            arguments = "{}"
        calls.append(ToolCall(str(item.get("id") or f"call_{number}"), function["name"], arguments))
    return calls


def anthropic_blocks(blocks: list[Any]) -> tuple[str, str, list[ToolCall]]:
    """(text, thinking, tool calls) of an Anthropic answer's content blocks."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(
                ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), arguments)
            )
    return "".join(text), "\n\n".join(part for part in thinking if part), calls
