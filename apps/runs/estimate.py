"""What a run will take before it starts: calls, tokens, cost and time per stage, as a
range, with what the range assumes (the run form's "Estimate" and
`POST /api/v1/runs/?dry_run=true`).

Without history the estimate follows the settings: how many batches the samples need, how
many drafts are rejected and made again (more behind a gate), what the judge and the
revisions add, tokens from the draft prompt itself and the length of the seeds. Earlier
successful runs of the same spec with the same pipeline settings replace those guesses
with what they measured: calls per accepted sample, tokens and latency per call, stage by
stage. Nothing is priced without a price: a stage whose model has none has no cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.core.models import Project, Provider, ProviderKind
from apps.core.pricing import Price, prices_for
from apps.specs.task_types import batch_schema

from .engines.drafting import calls_per_draft
from .engines.prompts import build_call, prompt_settings
from .engines.usage import STAGE_ORDER
from .models import Run, RunStatus

if TYPE_CHECKING:
    from .services import RunPlan

ROLE_OF_STAGE = {
    "plan": "outline",
    "outline": "outline",
    "draft": "generation",
    "judge": "revision",
    "revision": "revision",
}
# Settings that change which calls a run makes: earlier runs that share them are a guide.
PIPELINE_SETTINGS = (
    "batch_size",
    "skip_outline",
    "unified_multifield",
    "revision_types",
    "max_revision_cycles",
    "filtering_types",
    "enable_revisions",
    "tools",
)
PAST_RUNS = 5
# How far measured figures may move in the next run (history) or how far a guess may be off.
MEASURED = (0.85, 1.25)
DEFAULT_SAMPLE_TOKENS = 80  # a sample's length when the spec has no seeds
JUDGE_TOKENS_PER_SAMPLE = 60  # a verdict with its reasons
JUDGE_PROMPT_TOKENS = 300  # the judge's instructions and the spec's requirements
REVISION_PROMPT_TOKENS = 300


@dataclass(frozen=True)
class Span:
    low: float
    high: float

    def __add__(self, other: Span) -> Span:
        return Span(self.low + other.low, self.high + other.high)

    def __mul__(self, other: Span | float) -> Span:
        if isinstance(other, Span):
            return Span(self.low * other.low, self.high * other.high)
        return Span(self.low * other, self.high * other)

    def rounded(self) -> dict[str, int]:
        return {"low": math.floor(self.low), "high": math.ceil(self.high)}


ZERO = Span(0, 0)


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    model: str  # provider/model
    calls: Span
    input_tokens: Span
    output_tokens: Span
    seconds_per_call: Span
    cost: Span | None  # USD; None: the model has no price


@dataclass(frozen=True)
class Estimate:
    num_samples: int
    stages: list[StageEstimate]
    seconds: Span
    basis: str
    assumptions: list[str] = field(default_factory=list)

    def total(self, name: str) -> Span:
        return sum((getattr(stage, name) for stage in self.stages), ZERO)

    @property
    def cost(self) -> Span | None:
        costs = [stage.cost for stage in self.stages]
        if any(c is None for c in costs):
            return None
        return sum((c for c in costs if c is not None), ZERO)

    @property
    def unpriced(self) -> list[str]:
        return sorted({stage.model for stage in self.stages if stage.cost is None})


@dataclass(frozen=True)
class _Stage:
    """Calls of a stage and tokens and seconds per call, before pricing."""

    calls: Span
    input_tokens: Span  # per call
    output_tokens: Span  # per call
    seconds: Span  # per call


def estimate_plan(plan: RunPlan, *, project: Project) -> Estimate:
    past = _past_runs(plan, project)
    if past:
        stages, assumptions = _measured(plan, past)
        basis = f"measured on {len(past)} earlier run{'s' if len(past) > 1 else ''} of this spec"
    else:
        stages, assumptions = _guessed(plan)
        basis = "guessed from the spec and the settings (no earlier run of this spec to go by)"
    prices = prices_for(provider_ids={role.provider_id for role in plan.roles.values()})
    order = [name for name in STAGE_ORDER if name in stages]
    estimated = [_priced(plan, name, stages[name], prices) for name in order]
    return Estimate(
        num_samples=plan.num_samples,
        stages=estimated,
        seconds=_seconds(plan, stages, assumptions),
        basis=basis,
        assumptions=assumptions,
    )


# --- from earlier runs -----------------------------------------------------------------


def _past_runs(plan: RunPlan, project: Project) -> list[Run]:
    wanted = {name: _setting(plan.settings, name) for name in PIPELINE_SETTINGS}
    runs = Run.objects.filter(
        project=project,
        spec_version__spec=plan.spec_version.spec_id,
        status=RunStatus.SUCCEEDED,
        accepted__gt=0,
    ).order_by("-finished_at")[: PAST_RUNS * 4]
    alike = [
        run
        for run in runs.only("settings", "usage_by_stage", "accepted")
        if run.usage_by_stage
        and all(_setting(run.options, name) == value for name, value in wanted.items())
    ]
    return alike[:PAST_RUNS]


def _setting(settings: Any, name: str) -> Any:
    value = getattr(settings, name)
    return tuple(value) if isinstance(value, list | tuple) else value


def _measured(plan: RunPlan, past: list[Run]) -> tuple[dict[str, _Stage], list[str]]:
    accepted = sum(run.accepted for run in past)
    totals: dict[str, dict[str, float]] = {}
    for run in past:
        for stage, entry in run.usage_by_stage.items():
            if not isinstance(entry, dict):
                continue
            into = totals.setdefault(stage, {})
            for key in ("calls", "failed", "input_tokens", "output_tokens", "latency_ms"):
                value = entry.get(key, 0)
                into[key] = into.get(key, 0) + (value if isinstance(value, int | float) else 0)
    stages = {}
    low, high = MEASURED
    for stage in STAGE_ORDER:
        counts = totals.get(stage)
        if not counts:
            continue
        calls = counts["calls"] + counts["failed"]
        if not calls:
            continue
        per_sample = calls / accepted
        stages[stage] = _Stage(
            calls=Span(per_sample * low, per_sample * high) * plan.num_samples
            if stage != "plan"
            else Span(1, 1),
            input_tokens=Span(low, high) * (counts["input_tokens"] / max(counts["calls"], 1)),
            output_tokens=Span(low, high) * (counts["output_tokens"] / max(counts["calls"], 1)),
            seconds=Span(0.8, 1.3) * (counts["latency_ms"] / 1000 / calls),
        )
    runs = ", ".join(f"#{run.pk}" for run in past)
    return stages, [
        f"Calls per accepted sample, tokens and latency per call as in runs {runs} "
        f"(same batch size and quality settings), give or take {int((high - 1) * 100)}%."
    ]


# --- from the settings ------------------------------------------------------------------


def _guessed(plan: RunPlan) -> tuple[dict[str, _Stage], list[str]]:
    settings, version = plan.settings, plan.spec_version
    prompt = prompt_settings(version, settings)
    content = prompt.content
    batches = math.ceil(plan.num_samples / settings.batch_size)
    gated = "conformance" in settings.filters
    reject = Span(0.05, 0.4) if gated else Span(0.02, 0.2)
    drafts = Span(batches / (1 - reject.low), batches / (1 - reject.high))
    sample = Span(0.6, 1.6) * _sample_tokens(content.seeds)
    per_draft = calls_per_draft(settings, content.task_type, batch_schema(content, 1))
    draft_prompt = _tokens(build_call(prompt, 0).messages)
    assumptions = [
        f"{batches:,} batches of {settings.batch_size}; {reject.low:.0%} to {reject.high:.0%} "
        f"of the drafts rejected and drafted again{' (conformance gate)' if gated else ''}.",
        f"A sample is about {sample.low:.0f} to {sample.high:.0f} tokens "
        f"({'from the seeds' if content.seeds else 'no seeds to measure'}); the draft prompt "
        f"is {draft_prompt:,} tokens.",
    ]
    stages = {
        "draft": _Stage(
            calls=drafts * per_draft * (Span(1, 1.5) if settings.tools else 1),
            input_tokens=Span(draft_prompt, draft_prompt * 1.2),
            output_tokens=sample * (settings.batch_size / per_draft),
            seconds=ZERO,
        )
    }
    if settings.tools:
        assumptions.append("Up to one tool turn in two drafts (the calculator).")
    if not settings.skip_outline:
        stages["plan"] = _Stage(Span(1, 1), Span(draft_prompt, draft_prompt), Span(200, 400), ZERO)
        stages["outline"] = _Stage(
            calls=drafts,
            input_tokens=Span(draft_prompt * 0.8, draft_prompt),
            output_tokens=Span(30, 60) * settings.batch_size,
            seconds=ZERO,
        )
    revisions = settings.revisions
    if revisions or gated:
        cycles = settings.max_revision_cycles if revisions else 1
        fail = Span(0.1, 0.4)
        judged = Span(settings.batch_size, settings.batch_size) * sample
        stages["judge"] = _Stage(
            calls=drafts * (Span(1, 1) + fail * Span(1, cycles)),
            input_tokens=judged + Span(JUDGE_PROMPT_TOKENS, JUDGE_PROMPT_TOKENS),
            output_tokens=Span(0.8, 1.5) * (JUDGE_TOKENS_PER_SAMPLE * settings.batch_size),
            seconds=ZERO,
        )
        if revisions:
            stages["revision"] = _Stage(
                calls=drafts * settings.batch_size * fail * Span(1, cycles),
                input_tokens=sample + Span(REVISION_PROMPT_TOKENS, REVISION_PROMPT_TOKENS),
                output_tokens=sample,
                seconds=ZERO,
            )
        assumptions.append(
            f"The judge fails {fail.low:.0%} to {fail.high:.0%} of the samples per cycle "
            f"({cycles} cycle{'s' if cycles > 1 else ''} at most); each failure is revised "
            "and judged again."
        )
    return {
        name: _with_thinking_and_speed(plan, name, stage, assumptions)
        for name, stage in stages.items()
    }, assumptions


def _sample_tokens(seeds: Iterable[dict[str, Any]]) -> float:
    lengths = [len(str(seed)) for seed in seeds]
    return sum(lengths) / len(lengths) / 4 if lengths else DEFAULT_SAMPLE_TOKENS


def _tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(message.get("content", ""))) for message in messages) // 4


def _with_thinking_and_speed(
    plan: RunPlan, stage: str, guess: _Stage, assumptions: list[str]
) -> _Stage:
    role = plan.roles[ROLE_OF_STAGE[stage]]
    output = guess.output_tokens
    if role.thinking_budget:
        output = output + Span(role.thinking_budget * 0.25, role.thinking_budget)
    embedded = _provider_kind(role.provider_id) == ProviderKind.EMBEDDED
    # Tokens a second: the embedded model on this machine's CPU, or a hosted API.
    speed = Span(20, 5) if embedded else Span(120, 30)
    seconds = Span(0.3, 1.0) + Span(output.low / speed.low, output.high / speed.high)
    return _Stage(guess.calls, guess.input_tokens, output, seconds)


def _provider_kind(provider_id: int) -> str:
    return str(Provider.objects.values_list("kind", flat=True).get(pk=provider_id))


# --- cost and time ----------------------------------------------------------------------


def _priced(
    plan: RunPlan, name: str, stage: _Stage, prices: dict[tuple[int, str], Price]
) -> StageEstimate:
    role = plan.roles[ROLE_OF_STAGE[name]]
    inputs, outputs = stage.calls * stage.input_tokens, stage.calls * stage.output_tokens
    price = prices.get((role.provider_id, role.model))
    cost = None
    if price is not None:
        per_in = float(price.input_per_million) / 1e6
        per_out = float(price.output_per_million) / 1e6
        cost = inputs * per_in + outputs * per_out
    return StageEstimate(
        stage=name,
        model=f"{role.provider_name}/{role.model}",
        calls=stage.calls,
        input_tokens=inputs,
        output_tokens=outputs,
        seconds_per_call=stage.seconds,
        cost=cost,
    )


def _seconds(plan: RunPlan, stages: dict[str, _Stage], assumptions: list[str]) -> Span:
    """Calls spread over the lanes, plus one sample's chain of calls at the end; never
    faster than the provider's requests per minute allow."""
    provider = plan.provider
    lanes = max(1, min(plan.settings.concurrency, provider.max_concurrency or 1))
    busy = sum((stage.calls * stage.seconds for stage in stages.values()), ZERO) * (1 / lanes)
    chain = sum((stage.seconds for stage in stages.values()), ZERO)
    seconds = busy + chain
    calls = sum((stage.calls for stage in stages.values()), ZERO)
    if provider.requests_per_minute:
        floor = calls * (60 / provider.requests_per_minute)
        seconds = Span(max(seconds.low, floor.low), max(seconds.high, floor.high))
        rpm = provider.requests_per_minute
        assumptions.append(f"{provider.name} allows {rpm:,} requests a minute.")
    assumptions.append(
        f"{lanes} calls in flight at a time (the run's concurrency and the provider's)."
    )
    return seconds


def estimate_data(estimate: Estimate) -> dict[str, Any]:
    """The estimate as the API answers it."""

    def money(span: Span | None) -> dict[str, str] | None:
        if span is None:
            return None
        return {"low": _usd(span.low), "high": _usd(span.high)}

    return {
        "num_samples": estimate.num_samples,
        "calls": estimate.total("calls").rounded(),
        "input_tokens": estimate.total("input_tokens").rounded(),
        "output_tokens": estimate.total("output_tokens").rounded(),
        "cost_usd": money(estimate.cost),
        "unpriced_models": estimate.unpriced,
        "seconds": estimate.seconds.rounded(),
        "stages": [
            {
                "stage": stage.stage,
                "model": stage.model,
                "calls": stage.calls.rounded(),
                "input_tokens": stage.input_tokens.rounded(),
                "output_tokens": stage.output_tokens.rounded(),
                "cost_usd": money(stage.cost),
            }
            for stage in estimate.stages
        ],
        "basis": estimate.basis,
        "assumptions": estimate.assumptions,
    }


def _usd(amount: float) -> str:
    return str(Decimal(str(amount)).quantize(Decimal("0.0001")))
