"""One draft: (outline →) draft call (with its tool calls) → candidates with their trail."""

import json
from typing import Any

from apps.core.llm import ChatResult, load_json_answer
from apps.core.llm.tool_specs import TOOLS

from .context import StageContext
from .local_settings import LocalSettings
from .planning import outline_messages, outline_schema, with_outline
from .prompts import CallPlan
from .stages import Candidate, parse_answer

# Tool turns a draft may take; after them a tool call is refused and the model is asked
# for its final answer (as NeMo Data Designer does).
MAX_TOOL_TURNS = 5
REFUSED = "Tool call refused: the limit of tool calls is reached. Provide your final response."


async def _outline(ctx: StageContext, plan: CallPlan, trail: list[dict[str, Any]]) -> str:
    result = await ctx.call(
        "outline",
        "outline",
        outline_messages(plan.messages, ctx.prompt.batch_size),
        json_schema=outline_schema(ctx.prompt.batch_size),
        schema_name="outlines",
    )
    try:
        outlines = load_json_answer(result.content).get("outlines")
    except (ValueError, AttributeError):
        outlines = None
    step: dict[str, Any] = {"step": "outline", "model": ctx.roles["outline"].chosen.label}
    step["outline"] = outlines if isinstance(outlines, list) else result.content[:4000]
    if result.thinking:
        step["thinking"] = result.thinking
    trail.append(step)
    return json.dumps(step["outline"], ensure_ascii=False)


async def _draft(
    ctx: StageContext,
    messages: list[dict[str, Any]],
    *,
    schema: dict[str, Any],
    sampling: dict[str, float],
    trail: list[dict[str, Any]],
) -> tuple[ChatResult, int]:
    """The draft answer after any tool turns, and the HTTP attempts it took."""
    tools = [TOOLS[name].spec for name in ctx.options.tools]
    options: dict[str, Any] = {
        "json_schema": schema,
        "schema_name": "samples",
        "temperature": sampling["temperature"],
        "top_p": sampling["top_p"],
    }
    attempts = 0
    for turn in range(MAX_TOOL_TURNS + 1):
        result = await ctx.call("draft", "generation", messages, tools=tools or None, **options)
        attempts += result.attempts
        if not result.tool_calls:
            return result, attempts
        messages = [*messages, result.assistant_message()]
        for call in result.tool_calls:
            tool = TOOLS.get(call.name)
            if turn == MAX_TOOL_TURNS:
                answer = REFUSED
            elif tool is None or call.name not in ctx.options.tools:
                answer = f"Error: no tool named {call.name!r}."
            else:
                answer = await tool.run(call.arguments)
            trail.append(
                {"step": "tool", "tool": call.name, "arguments": call.arguments, "result": answer}
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": answer})
    return result, attempts


# Task types whose samples have several fields that `unified_multifield=false` writes one
# call per field, each call seeing the fields already written.
MULTIFIELD_TASKS = ("custom", "decoder", "conversation")


def _fields(schema: dict[str, Any]) -> list[str]:
    items = schema.get("properties", {}).get("samples", {}).get("items", {})
    return list(items.get("properties", {}))


def drafts_by_field(options: LocalSettings, task_type: str, schema: dict[str, Any]) -> bool:
    """Whether a batch is drafted one call per field (`unified_multifield` off)."""
    return (
        not options.unified_multifield
        and task_type in MULTIFIELD_TASKS
        and len(_fields(schema)) > 1
    )


def calls_per_draft(options: LocalSettings, task_type: str, schema: dict[str, Any]) -> int:
    """Draft calls one batch takes (tool turns aside): one, or one per field."""
    return len(_fields(schema)) if drafts_by_field(options, task_type, schema) else 1


def _one_field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The batch schema with only field `name` in each sample."""
    samples = schema["properties"]["samples"]
    items = samples["items"]
    item = {**items, "properties": {name: items["properties"][name]}, "required": [name]}
    return {**schema, "properties": {"samples": {**samples, "items": item}}}


async def _draft_by_field(
    ctx: StageContext,
    messages: list[dict[str, Any]],
    *,
    schema: dict[str, Any],
    sampling: dict[str, float],
    trail: list[dict[str, Any]],
) -> tuple[str, str | None, str, int]:
    """(answer, finish_reason, thinking, attempts) of one call per field, merged."""
    written: list[dict[str, Any]] = []
    finish: str | None = None
    thinking: list[str] = []
    attempts = 0
    for name in _fields(schema):
        *head, last = messages
        so_far = json.dumps(written, ensure_ascii=False) if written else "nothing yet"
        ask = {
            **last,
            "content": f"{last['content']}\n\nWrite the samples one field at a time. Written "
            f"so far: {so_far}. Now write only the field {name!r} of each sample, in the "
            "same order, consistent with what is written.",
        }
        result, tries = await _draft(
            ctx, [*head, ask], schema=_one_field(schema, name), sampling=sampling, trail=trail
        )
        attempts += tries
        finish = "length" if result.finish_reason == "length" else finish or result.finish_reason
        if result.thinking:
            thinking.append(result.thinking)
        try:
            parts = load_json_answer(result.content).get("samples")
        except (ValueError, AttributeError):
            parts = None
        if not isinstance(parts, list):
            return result.content, finish, "\n\n".join(thinking), attempts
        written = [
            {**(written[i] if i < len(written) else {}), **(part if isinstance(part, dict) else {})}
            for i, part in enumerate(parts)
        ]
    return json.dumps({"samples": written}), finish, "\n\n".join(thinking), attempts


async def draft_batch(
    ctx: StageContext,
    plan: CallPlan,
    call_index: int,
    *,
    schema: dict[str, Any],
    sampling: dict[str, float],
) -> tuple[list[Candidate], int]:
    """The candidates of draft call `call_index`, each with its trail so far."""
    trail: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = list(plan.messages)
    if not ctx.options.skip_outline:
        messages = with_outline(plan.messages, await _outline(ctx, plan, trail))
    by_field = drafts_by_field(ctx.options, ctx.prompt.content.task_type, schema)
    if by_field:
        answer, finish, thinking, attempts = await _draft_by_field(
            ctx, messages, schema=schema, sampling=sampling, trail=trail
        )
    else:
        result, attempts = await _draft(
            ctx, messages, schema=schema, sampling=sampling, trail=trail
        )
        answer, finish, thinking = result.content, result.finish_reason, result.thinking
    step: dict[str, Any] = {
        "step": "draft",
        "model": ctx.roles["generation"].chosen.label,
        "finish_reason": finish,
    }
    if by_field:
        step["by_field"] = _fields(schema)
    if thinking:
        step["thinking"] = thinking
    trail.append(step)
    batch = parse_answer(answer, call_index, plan.original)
    for candidate in batch:
        candidate.trail = list(trail)
    return batch, attempts
