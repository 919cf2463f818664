"""One draft: (outline →) draft call (with its tool calls) → candidates with their trail."""

import json
from typing import Any

from apps.core.llm import ChatResult, load_json_answer
from apps.core.llm.tool_specs import TOOLS

from .context import StageContext
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
    result, attempts = await _draft(ctx, messages, schema=schema, sampling=sampling, trail=trail)
    step: dict[str, Any] = {
        "step": "draft",
        "model": ctx.roles["generation"].chosen.label,
        "finish_reason": result.finish_reason,
    }
    if result.thinking:
        step["thinking"] = result.thinking
    trail.append(step)
    batch = parse_answer(result.content, call_index, plan.original)
    for candidate in batch:
        candidate.trail = list(trail)
    return batch, attempts
