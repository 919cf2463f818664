"""Reads for runs, always scoped to the caller's project."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import ngettext

from apps.core.models import Project, ProviderKind
from apps.core.pricing import price_text
from apps.datasets.models import Sample
from apps.specs.task_types import REASON_LABELS

from .engines.usage import total_cost, usage_rows
from .models import Run, RunEvent, RunStatus, ThroughputPoint


def run_list(*, project: Project) -> QuerySet[Run]:
    return (
        Run.objects.filter(project=project)
        .select_related("spec_version__spec", "provider", "dataset")
        .order_by("-id")
    )


def run_page(
    *,
    project: Project,
    status: str = "",
    spec_id: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[Run], int | None]:
    """Runs newest first, of one status and one spec or all, older than run `before` if
    given; and the cursor of the next page (the last id shown, None at the end)."""
    runs = run_list(project=project)
    if status:
        runs = runs.filter(status=status)
    if spec_id:
        runs = runs.filter(spec_version__spec_id=spec_id)
    if before:
        runs = runs.filter(pk__lt=before)
    rows = list(runs[: limit + 1])
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None


def run_get(*, project: Project, run_id: int) -> Run:
    try:
        return run_list(project=project).get(pk=run_id)
    except Run.DoesNotExist as exc:
        raise Http404("No such run.") from exc


COMPARE_CHOICES = 50


def compare_choices(*, run: Run) -> list[Run]:
    """Runs to compare `run` with, newest first: those of the same spec, then the others."""
    others = run_list(project=run.project).exclude(pk=run.pk).order_by("-id")[:COMPARE_CHOICES]
    spec_id = run.spec_version.spec_id
    return sorted(others, key=lambda other: other.spec_version.spec_id != spec_id)


def previous_run(*, run: Run) -> Run | None:
    """The run of the same spec made just before `run` (what "Run again" was run from,
    most often): the first one to compare it with."""
    return (
        Run.objects.filter(
            project=run.project_id, spec_version__spec=run.spec_version.spec_id, pk__lt=run.pk
        )
        .order_by("-pk")
        .only("pk")
        .first()
    )


@dataclass
class Progress:
    percent: float
    per_second: float | None
    eta_seconds: float | None
    lines: list[str]
    # From the start to the end, or to now while the run goes on.
    elapsed_seconds: float | None = None


# The ETA follows the pace of the last minute (early calls, a provider's slow spell and
# waits fade out of it) rather than the average since the start.
ETA_WINDOW_SECONDS = 60


def recent_rate(run: Run, window: float = ETA_WINDOW_SECONDS) -> float | None:
    """Samples accepted per second over the last `window` seconds of throughput points
    (two index probes); None before a window's worth of points exists."""
    now = timezone.now()
    points = ThroughputPoint.objects.filter(run=run).order_by("-at")
    newest = points.values_list("at", "accepted_total").first()
    before = (
        points.filter(at__lte=now - timedelta(seconds=window))
        .values_list("at", "accepted_total")
        .first()
    )
    if newest is None or before is None or newest[0] <= before[0]:
        return None
    return (newest[1] - before[1]) / (newest[0] - before[0]).total_seconds()


def run_progress(run: Run, *, rate: float | None = None) -> Progress:
    """Percent done, throughput, ETA and withpi-style `detailed_status` lines. `rate`: the
    recent pace (recent_rate), which the ETA prefers to the average since the start."""
    percent = 100.0 * run.accepted / run.num_samples if run.num_samples else 0.0
    per_second = eta = elapsed = None
    if run.started_at:
        end = run.finished_at or timezone.now()
        elapsed = max((end - run.started_at).total_seconds(), 0.001)
        if run.accepted:
            per_second = run.accepted / elapsed
    if per_second and not run.is_finished:
        eta = (run.num_samples - run.accepted) / (rate if rate else per_second)
    lines = [f"{run.accepted} of {run.num_samples} samples accepted ({percent:.0f}%)."]
    if run.calls or run.failed_calls:
        calls = ngettext("%d provider call answered", "%d provider calls answered", run.calls)
        retries = ngettext("%d retry", "%d retries", run.retries)
        lines.append(
            f"{calls % run.calls}, {run.failed_calls} failed, {retries % run.retries}; "
            f"{run.input_tokens} input and {run.output_tokens} output tokens."
        )
    if run.rejected or run.duplicates:
        reasons = ", ".join(
            f"{REASON_LABELS.get(reason, reason)}: {count}"
            for reason, count in sorted(run.rejected_by_reason.items(), key=lambda kv: -kv[1])
        )
        count = run.rejected + run.duplicates
        rejected = ngettext("%d candidate rejected", "%d candidates rejected", count) % count
        lines.append(f"{rejected} — {reasons}.")
    if run.status == RunStatus.QUEUED:
        lines.append("Waiting for a worker.")
    elif run.cancel_requested and not run.is_finished:
        lines.append("Cancelling: waiting for the calls in flight.")
    elif not run.is_finished and run.wait_until and run.wait_until > timezone.now():
        provider = run.provider.name if run.provider else "the provider"
        lines.append(f"Waiting for {provider} until {run.wait_until:%H:%M:%S} UTC (Retry-After).")
    elif run.status == RunStatus.RUNNING and not (run.calls or run.failed_calls):
        lines.append("Calls are out; waiting for the provider's first answers.")
    if run.error:
        lines.append(run.error)
    return Progress(
        percent=min(percent, 100.0),
        per_second=per_second,
        eta_seconds=eta,
        lines=lines,
        elapsed_seconds=elapsed,
    )


EVENTS_SHOWN = 30


def run_events(*, run: Run, limit: int = EVENTS_SHOWN) -> list[RunEvent]:
    return list(RunEvent.objects.filter(run=run).order_by("-id")[:limit])


def run_newest_samples(*, run: Run, limit: int = 8) -> list[Sample]:
    return list(Sample.objects.filter(run=run).order_by("-id")[:limit])


def run_rejects(*, run: Run, per_reason: int = 3) -> list[dict[str, Any]]:
    """Rejects grouped by reason, with a few examples each (one query)."""
    rows = run.rejects.raw(
        """
        SELECT id, reason, detail, payload, lineage FROM (
            SELECT r.*, row_number() OVER (PARTITION BY reason ORDER BY id DESC) AS n
            FROM runs_rejectedsample r WHERE run_id = %s
        ) ranked WHERE n <= %s ORDER BY reason, id DESC
        """,
        [run.pk, per_reason],
    )
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(
            row.reason,
            {
                "reason": row.reason,
                "label": REASON_LABELS.get(row.reason, row.reason),
                "count": run.rejected_by_reason.get(row.reason, 0),
                "examples": [],
            },
        )
        group["examples"].append(row)
    return sorted(groups.values(), key=lambda g: -g["count"])


def run_throughput(
    *, run: Run, width: int = 600, height: int = 120, max_points: int = 300
) -> dict[str, Any]:
    """Accepted samples over time as SVG polyline points (at most `max_points` of them,
    evenly spread and always with the newest: a long run records one a second)."""
    points = list(
        ThroughputPoint.objects.filter(run=run).order_by("at").values_list("at", "accepted_total")
    )
    if not run.started_at or not points:
        return {"points": "", "width": width, "height": height, "max": 0, "seconds": 0}
    if len(points) > max_points:
        step = len(points) / max_points
        points = [points[int(i * step)] for i in range(max_points - 1)] + [points[-1]]
    start = run.started_at
    series = [(0.0, 0), *[((at - start).total_seconds(), total) for at, total in points]]
    span = max(series[-1][0], 1.0)
    top = max(run.num_samples, 1)
    coords = " ".join(
        f"{width * t / span:.1f},{height - height * total / top:.1f}" for t, total in series
    )
    return {
        "points": coords,
        "width": width,
        "height": height,
        "max": top,
        "seconds": span,
        "ticks": time_ticks(span),
    }


# Steps of a time axis, in seconds: the first that gives at most 6 ticks is used.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200)


def time_ticks(span: float, most: int = 6) -> list[tuple[float, float]]:
    """(percent of the width, seconds since the start) of a time axis's ticks."""
    step = next((s for s in TICK_STEPS if span / s <= most), TICK_STEPS[-1])
    count = int(span // step)
    return [(100.0 * i * step / span, float(i * step)) for i in range(count + 1)]


@dataclass
class StageUsage:
    stage: str
    calls: int
    failed: int
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    avg_latency_ms: float | None
    # None: a model of the stage has no price (an unknown cost, never 0).
    cost: Decimal | None
    models: list[str]
    # The provider whose page sets the price of an unpriced model of the stage (the
    # run's own for usage recorded before models were listed with their provider).
    price_provider_id: int | None = None
    # The stage's bar in the chart: x offsets and widths of its input and output tokens.
    bar_input: float = 0.0
    bar_output: float = 0.0
    bar_output_x: float = 0.0
    y: int = 0

    @property
    def latency_text(self) -> str:
        if self.avg_latency_ms is None:
            return "—"
        if self.avg_latency_ms < 1000:
            return f"{self.avg_latency_ms:.0f} ms"
        return f"{self.avg_latency_ms / 1000:.1f} s"

    @property
    def cost_text(self) -> str:
        return "" if self.cost is None else dollars(self.cost)


def dollars(amount: Decimal) -> str:
    """$0.42, $0.000315: two decimal places, more only when they count (at most six)."""
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        amount = amount.quantize(Decimal("0.000001"))
    return f"${price_text(amount)}"


def decimal_text(amount: Decimal | None) -> str | None:
    """A cost for the API: a plain decimal string (no exponent), at most 12 decimal places."""
    if amount is None:
        return None
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        amount = amount.quantize(Decimal("1e-12"))
    return f"{amount.normalize():f}"


@dataclass
class RunUsage:
    stages: list[StageUsage]
    total: StageUsage | None
    cost_per_accepted: Decimal | None
    chart_width: int = 600
    chart_height: int = 0
    chart_max: int = 0
    unpriced: list[str] = field(default_factory=list)

    @property
    def cost_per_accepted_text(self) -> str:
        return "" if self.cost_per_accepted is None else dollars(self.cost_per_accepted)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cost(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def run_cost(usage: Any) -> Decimal | None:
    """The run's cost so far; None when unknown (a stage with an unpriced model)."""
    if not isinstance(usage, dict) or not all(isinstance(e, dict) for e in usage.values()):
        return None
    try:
        return total_cost(usage)
    except ArithmeticError:
        return None


def cost_per_accepted(usage: Any, accepted: int) -> Decimal | None:
    """The run's cost divided by its accepted samples, when every stage is priced."""
    total = run_cost(usage)
    if total is None or not usage or accepted <= 0:
        return None
    return total / accepted


BAR_HEIGHT, BAR_GAP, BAR_LABEL = 18, 8, 90


def _price_provider(entry: dict[str, Any]) -> int | None:
    unpriced = entry.get("unpriced")
    if isinstance(unpriced, list) and unpriced and isinstance(unpriced[0], list):
        provider_id = unpriced[0][0]
        return provider_id if isinstance(provider_id, int) else None
    return None


def run_usage(run: Run, chart_width: int = 600) -> RunUsage:
    """Calls, tokens, latency and cost per stage, a total row, the cost per accepted sample
    and a bar chart of tokens per stage: all from `Run.usage_by_stage` (no query)."""
    usage = run.usage_by_stage if isinstance(run.usage_by_stage, dict) else {}
    stages = []
    for stage, entry in usage_rows(usage):
        if not isinstance(entry, dict):
            continue
        calls, failed = _int(entry.get("calls")), _int(entry.get("failed"))
        latency = _int(entry.get("latency_ms"))
        models = entry.get("models")
        models = models if isinstance(models, list) else []
        stages.append(
            StageUsage(
                stage=str(stage),
                calls=calls,
                failed=failed,
                input_tokens=_int(entry.get("input_tokens")),
                output_tokens=_int(entry.get("output_tokens")),
                thinking_tokens=_int(entry.get("thinking_tokens")),
                avg_latency_ms=latency / (calls + failed) if calls + failed else None,
                cost=_cost(entry.get("cost")),
                models=[str(m) for m in models],
                price_provider_id=_price_provider(entry) or run.provider_id,
            )
        )
    if not stages:
        return RunUsage(stages=[], total=None, cost_per_accepted=None)
    calls, failed = sum(s.calls for s in stages), sum(s.failed for s in stages)
    latency = sum(_int(usage[s.stage].get("latency_ms")) for s in stages)
    total = StageUsage(
        stage="total",
        calls=calls,
        failed=failed,
        input_tokens=sum(s.input_tokens for s in stages),
        output_tokens=sum(s.output_tokens for s in stages),
        thinking_tokens=sum(s.thinking_tokens for s in stages),
        avg_latency_ms=latency / (calls + failed) if calls + failed else None,
        cost=run_cost(usage),
        models=sorted({m for s in stages for m in s.models}),
    )
    top = max((s.input_tokens + s.output_tokens for s in stages), default=0)
    span = chart_width - BAR_LABEL
    for i, s in enumerate(stages):
        s.y = i * (BAR_HEIGHT + BAR_GAP)
        if top:
            s.bar_input = round(span * s.input_tokens / top, 1)
            s.bar_output = round(span * s.output_tokens / top, 1)
        s.bar_output_x = BAR_LABEL + s.bar_input
    unpriced = sorted({m for s in stages if s.cost is None for m in s.models})
    return RunUsage(
        stages=stages,
        total=total,
        cost_per_accepted=cost_per_accepted(usage, run.accepted),
        chart_width=chart_width,
        chart_height=len(stages) * (BAR_HEIGHT + BAR_GAP),
        chart_max=top,
        unpriced=unpriced,
    )


def label_bars(counts: dict[str, int]) -> tuple[list[tuple[str, int]], int]:
    """(label, count) pairs, most frequent first, and the largest count (the bars' scale)."""
    pairs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return pairs, max(counts.values(), default=0) or 1


def usual_provider_id(project: Project) -> int | None:
    """What a new run starts from: the provider of the project's last run, else the
    embedded model, else the first provider."""
    last = Run.objects.filter(project=project, provider__isnull=False).order_by("-id").first()
    if last is not None:
        return last.provider_id
    providers = project.providers.order_by("name")
    first = providers.filter(kind=ProviderKind.EMBEDDED).first() or providers.first()
    return first.pk if first else None
