"""Revision cycles and the conformance gate: a judge model checks each draft, a reviser
rewrites the ones that need it, and the rewrite is judged again.

One judge call checks a whole batch: per sample and per check, a reason first and then a
pass/fail verdict (reasoning before the score, as NeMo Data Designer's judge columns do).
A revision call is made only for a sample that failed a check the run asked to revise,
and the last rewrite is always judged (never keep an unjudged rewrite). After the last
cycle, a sample that still breaks its requirements or label is regenerated when the
conformance gate is on, and kept with a flag otherwise.
"""

import asyncio
import json
from typing import Any

from apps.core.llm import LLMError, load_json_answer
from apps.specs.task_types import (
    REASON_CONFORMANCE,
    REASON_NOT_JUDGED,
    REASON_REVISION_INVALID,
    check_sample,
    handler,
    sample_schema,
)
from apps.specs.texts import text_hash

from .context import FATAL_ERRORS
from .local_settings import FilteringType, RevisionType
from .stages import Candidate, echo_stage

CHECKS: dict[str, str] = {
    RevisionType.CONFORMANCE: "It meets every requirement, and its labels fit its text.",
    RevisionType.COHERENCE_FLOW: "It is well formatted and reads naturally, without broken flow.",
    RevisionType.CONSISTENCY: "It has no internal contradictions.",
    RevisionType.DISTINGUISHABILITY: "It could not be told apart from the examples in style.",
}
# How many of a judge's reasons go into a revision request.
MAX_REASON_CHARS = 500


def judge_schema(checks: list[str], samples: int) -> dict[str, Any]:
    """One property per sample ("sample_0", ...), each with every check: a model bound by
    structured output cannot skip a sample or a check."""
    verdict = {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "pass": {"type": "boolean"}},
        "required": ["reason", "pass"],
    }
    checked = {
        "type": "object",
        "properties": {check: verdict for check in checks},
        "required": checks,
    }
    names = [f"sample_{i}" for i in range(samples)]
    return {
        "type": "object",
        "properties": {name: checked for name in names},
        "required": names,
    }


def _spec_text(ctx: Any) -> str:
    prompt = ctx.prompt
    parts = [f"Domain: {prompt.description.strip()}"]
    if prompt.instruction.strip():
        parts.append(f"Instructions: {prompt.instruction.strip()}")
    parts.append(handler(prompt.content.task_type).describe(prompt.content))
    if prompt.requirements:
        parts.append("Requirements:\n" + "\n".join(f"- {r}" for r in prompt.requirements))
    if prompt.content.seeds:
        shown = prompt.content.seeds[: prompt.max_examples_in_prompt or 0]
        if shown:
            parts.append(
                "Examples:\n" + "\n".join(json.dumps(s, ensure_ascii=False) for s in shown)
            )
    return "\n\n".join(parts)


def checks_for(ctx: Any) -> tuple[list[str], list[str]]:
    """(what the judge checks, what a failure of may be revised)."""
    options = ctx.options
    revisions = [
        r
        for r in options.revisions
        if r != RevisionType.DISTINGUISHABILITY or ctx.prompt.content.seeds
    ]
    checks = list(revisions)
    if FilteringType.CONFORMANCE in options.filters and RevisionType.CONFORMANCE not in checks:
        checks.append(RevisionType.CONFORMANCE.value)
    return checks, revisions


async def _judge(batch: list[Candidate], checks: list[str], ctx: Any, cycle: int) -> dict[int, Any]:
    """Position in `batch` → {check: {"pass", "reason"}}; missing positions were not judged."""
    listing = "\n".join(
        f"sample_{i}: {json.dumps(c.payload, ensure_ascii=False)}" for i, c in enumerate(batch)
    )
    asked = "\n".join(f"- {check}: {CHECKS[check]}" for check in checks)
    messages = [
        {
            "role": "system",
            "content": "You are a strict reviewer of training data. For each sample and each "
            "check, give a short reason first, then pass true or false. Answer with JSON only.",
        },
        {
            "role": "user",
            "content": f"{_spec_text(ctx)}\n\nChecks:\n{asked}\n\nSamples:\n{listing}",
        },
    ]
    result = await ctx.call(
        "judge",
        "revision",
        messages,
        json_schema=judge_schema(checks, len(batch)),
        schema_name="verdicts",
        temperature=0.0,
    )
    try:
        data = load_json_answer(result.content)
    except ValueError:
        data = None
    verdicts: dict[int, Any] = {}
    for position in range(len(batch)):
        item = data.get(f"sample_{position}") if isinstance(data, dict) else None
        if not isinstance(item, dict):
            continue
        found = {
            check: item[check]
            for check in checks
            if isinstance(item.get(check), dict) and isinstance(item[check].get("pass"), bool)
        }
        if len(found) == len(checks):
            verdicts[position] = found
    for position, candidate in enumerate(batch):
        candidate.trail.append(
            {
                "step": "judge",
                "cycle": cycle,
                "model": ctx.roles["revision"].chosen.label,
                "verdicts": verdicts.get(position),
            }
        )
    return verdicts


async def _revise(candidate: Candidate, failed: dict[str, str], ctx: Any, cycle: int) -> None:
    problems = "\n".join(
        f"- {check}: {reason[:MAX_REASON_CHARS]}" for check, reason in failed.items()
    )
    messages = [
        {
            "role": "system",
            "content": "You revise training data samples. Fix exactly the problems named, keep "
            "everything else, and answer with JSON only.",
        },
        {
            "role": "user",
            "content": f"{_spec_text(ctx)}\n\nSample:\n"
            f"{json.dumps(candidate.payload, ensure_ascii=False)}\n\nProblems:\n{problems}\n\n"
            'Return {"sample": <the corrected sample>}.',
        },
    ]
    schema = {
        "type": "object",
        "properties": {"sample": sample_schema(ctx.prompt.content)},
        "required": ["sample"],
    }
    result = await ctx.call(
        "revision", "revision", messages, json_schema=schema, schema_name="revision"
    )
    try:
        revised = load_json_answer(result.content)
        payload = revised["sample"] if isinstance(revised, dict) else None
    except (ValueError, KeyError, TypeError):
        payload = None
    checked = check_sample(payload, ctx.prompt.content) if payload is not None else None
    candidate.trail.append(
        {
            "step": "revision",
            "cycle": cycle,
            "model": ctx.roles["revision"].chosen.label,
            "fixes": sorted(failed),
            "payload": payload,
        }
    )
    if checked is None or not checked.ok:
        why = checked.detail if checked is not None else "the answer held no sample"
        candidate.regenerate(REASON_REVISION_INVALID, f"the revision broke the sample: {why}")
        return
    candidate.payload, candidate.text, candidate.labels = (
        checked.payload,
        checked.text,
        checked.labels,
    )
    candidate.text_hash = text_hash(checked.text)


async def judge_stage(batch: list[Candidate], ctx: Any) -> None:
    checks, revisions = checks_for(ctx)
    if not checks:
        return
    gate = FilteringType.CONFORMANCE in ctx.options.filters
    pending = [c for c in batch if c.ok]
    cycles = ctx.options.max_revision_cycles if revisions else 0
    for cycle in range(cycles + 1):
        if not pending:
            return
        try:
            verdicts = await _judge(pending, checks, ctx, cycle)
        except LLMError as exc:
            if isinstance(exc, FATAL_ERRORS):
                raise
            verdicts = {}
            for candidate in pending:
                candidate.trail.append({"step": "judge", "cycle": cycle, "error": exc.user_message})
        revise: list[tuple[Candidate, dict[str, str]]] = []
        for position, candidate in enumerate(pending):
            verdict = verdicts.get(position)
            if verdict is None:
                if gate:
                    candidate.regenerate(REASON_NOT_JUDGED, "the judge gave no verdict on it")
                else:
                    candidate.flagged = "not judged"
                continue
            failed = {check: v.get("reason", "") for check, v in verdict.items() if not v["pass"]}
            fixable = {check: why for check, why in failed.items() if check in revisions}
            if fixable and cycle < cycles:
                revise.append((candidate, failed))
            elif RevisionType.CONFORMANCE in failed and gate:
                candidate.regenerate(REASON_CONFORMANCE, str(failed[RevisionType.CONFORMANCE]))
            elif failed:
                candidate.flagged = "; ".join(f"{check}: {why}" for check, why in failed.items())
        # The batch's revisions go out together (the provider's concurrency limit holds),
        # so a batch holds its lane for draft, judge, revise, judge whatever it revises.
        outcomes = await asyncio.gather(
            *(_revise(candidate, failed, ctx, cycle + 1) for candidate, failed in revise),
            return_exceptions=True,
        )
        pending = []
        for (candidate, _), outcome in zip(revise, outcomes, strict=True):
            if isinstance(outcome, FATAL_ERRORS):
                raise outcome
            if isinstance(outcome, LLMError):
                candidate.regenerate(
                    REASON_NOT_JUDGED, f"its revision failed: {outcome.user_message}"
                )
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            if candidate.ok:
                await echo_stage([candidate], ctx)
            if candidate.ok:
                pending.append(candidate)
