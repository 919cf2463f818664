"""Inbound conversations in each protocol's shape, turned into plain chat messages.

The LLM client speaks to OpenAI-style and Anthropic providers alike from
`[{"role": "system" | "user" | "assistant", "content": str}]`, so every protocol's
messages become that: text parts are joined, other parts (images, tool calls) are refused
with a 400 naming the part, since no provider path here carries them.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request

Messages = list[dict[str, str]]

MAX_MESSAGES = 1000
TEXT_PART_TYPES = ("text", "input_text", "output_text")
OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if not isinstance(content, list):
        raise bad_request(f"{where} must be a string or a list of text parts.", where)
    pieces = []
    for n, part in enumerate(content):
        if isinstance(part, str):
            pieces.append(part)
            continue
        if not isinstance(part, dict) or part.get("type") not in TEXT_PART_TYPES:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise bad_request(
                f"{where}[{n}] is a {kind!r} part; only text parts are supported.", where
            )
        if not isinstance(part.get("text"), str):
            raise bad_request(f"{where}[{n}].text must be a string.", where)
        pieces.append(part["text"])
    return "".join(pieces)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise bad_request(f"{where} must be a non-empty list of messages.", where)
    if len(value) > MAX_MESSAGES:
        raise bad_request(f"{where} may hold at most {MAX_MESSAGES} messages.", where)
    return value


def _openai_message(message: Any, at: str) -> dict[str, str]:
    if not isinstance(message, dict):
        raise bad_request(f"{at} must be an object with role and content.", at)
    named = message.get("role")
    role = OPENAI_ROLES.get(named) if isinstance(named, str) else None
    if role is None:
        raise bad_request(
            f"{at}.role must be one of system, developer, user, assistant.", f"{at}.role"
        )
    return {"role": role, "content": _text(message.get("content"), f"{at}.content")}


def openai_messages(raw: Any) -> Messages:
    return [_openai_message(m, f"messages[{n}]") for n, m in enumerate(_list(raw, "messages"))]


def anthropic_messages(system: Any, raw: Any) -> Messages:
    messages: Messages = []
    if system is not None:
        text = _text(system, "system")
        if text:
            messages.append({"role": "system", "content": text})
    for n, message in enumerate(_list(raw, "messages")):
        at = f"messages[{n}]"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise bad_request(f"{at}.role must be user or assistant.", f"{at}.role")
        messages.append(
            {"role": message["role"], "content": _text(message.get("content"), f"{at}.content")}
        )
    return messages


def responses_messages(raw_input: Any, instructions: Any) -> Messages:
    messages: Messages = []
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("instructions must be a string.", "instructions")
        messages.append({"role": "system", "content": instructions})
    if isinstance(raw_input, str):
        if not raw_input:
            raise bad_request("input must not be empty.", "input")
        messages.append({"role": "user", "content": raw_input})
        return messages
    for n, item in enumerate(_list(raw_input, "input")):
        if isinstance(item, dict) and item.get("type", "message") != "message":
            raise bad_request(
                f"input[{n}] is a {item.get('type')!r} item; only messages are supported.",
                "input",
            )
        messages.append(_openai_message(item, f"input[{n}]"))
    return messages


def prompt_messages(prompt: Any) -> Messages:
    """`/v1/completions`: one prompt string (or a list holding exactly one)."""
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad_request("prompt must be a string (batches of prompts are not supported).")
    return [{"role": "user", "content": prompt}]


def last_user_text(messages: Messages) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return message["content"]
    return messages[-1]["content"] if messages else ""


def check_model(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("model is required: a model id from GET /v1/models.", "model")
    return value.strip()


def number(data: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"{name} must be a number from {low:g} to {high:g}.", name)
    return float(value)


def integer(data: dict[str, Any], *names: str, low: int = 1, high: int = 1_000_000) -> int | None:
    for name in names:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad_request(f"{name} must be an integer from {low} to {high}.", name)
        return value
    return None


def stops(value: Any, name: str = "stop") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and len(value) <= 16 and all(isinstance(s, str) for s in value):
        return value or None
    raise bad_request(f"{name} must be a string or a list of at most 16 strings.", name)


def flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false.", name)
    return value


def refuse_unsupported(body: dict[str, Any], names: tuple[str, ...]) -> None:
    """A 400 naming the first of these options the body sets: a caller must not lose one
    silently (an echo it never gets, a conversation that is not continued)."""
    for name in names:
        if body.get(name) not in (None, False, 0, "", {}):
            raise bad_request(f"{name} is not supported by this gateway.", name)
