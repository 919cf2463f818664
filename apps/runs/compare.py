"""Two runs side by side (the run-to-run diff): the settings that differ, and the figures
people compare — acceptance, rejects by reason, duplicates, label shares, sample lengths,
cost per accepted sample, time — with a few samples of each."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Max, Min
from django.db.models.functions import Length

from apps.core.options import settings_rows
from apps.datasets.models import Sample
from apps.specs.task_types import REASON_LABELS

from .engines.usage import total_cost
from .forms import SETTING_GROUPS
from .models import Run
from .selectors import run_progress

SAMPLES_SHOWN = 5


@dataclass(frozen=True)
class Row:
    """One compared figure: its name, each run's value as text, and (for a bar) each
    run's value as a share of the larger one."""

    name: str
    a: str
    b: str
    bar_a: float | None = None
    bar_b: float | None = None
    differs: bool = False


def _row(name: str, a: float | None, b: float | None, shown: str = "{:,.0f}") -> Row:
    top = max(a or 0, b or 0) or 1
    text = [("—" if value is None else shown.format(value)) for value in (a, b)]
    bars = [None if value is None else 100 * value / top for value in (a, b)]
    return Row(name, text[0], text[1], bars[0], bars[1], differs=text[0] != text[1])


def _share(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _lengths(run: Run) -> dict[str, Any]:
    return Sample.objects.filter(run=run).aggregate(
        mean=Avg(Length("text")), shortest=Min(Length("text")), longest=Max(Length("text"))
    )


def _seconds(run: Run) -> float | None:
    return run_progress(run).elapsed_seconds if run.finished_at else None


def run_compare(a: Run, b: Run) -> dict[str, Any]:
    """What the comparison page shows of runs `a` and `b` (one query per run for lengths
    and one for its samples)."""
    settings = [
        Row(f"{SETTING_GROUPS[group]} · {label}", value_a, value_b, differs=value_a != value_b)
        for (group, label, value_a), (_, _, value_b) in zip(
            settings_rows(a.options), settings_rows(b.options), strict=True
        )
    ]
    basics = [
        Row("Spec version", _version(a), _version(b), differs=_version(a) != _version(b)),
        Row("Model", _model(a), _model(b), differs=_model(a) != _model(b)),
    ]
    figures = [
        _row("Samples wanted", a.num_samples, b.num_samples),
        _row("Accepted", a.accepted, b.accepted),
        _row("Acceptance rate (%)", _acceptance(a), _acceptance(b), shown="{:.1f}"),
        _row("Duplicate rate (%)", _duplicate_rate(a), _duplicate_rate(b), shown="{:.1f}"),
        _row("Calls", a.calls + a.failed_calls, b.calls + b.failed_calls),
        _row("Tokens", a.input_tokens + a.output_tokens, b.input_tokens + b.output_tokens),
        _row("Cost per accepted sample (USD)", _cost_per(a), _cost_per(b), shown="{:.4f}"),
        _row("Time (s)", _seconds(a), _seconds(b)),
    ]
    lengths = {run.pk: _lengths(run) for run in (a, b)}
    for key, name in (("mean", "Mean"), ("shortest", "Shortest"), ("longest", "Longest")):
        figures.append(_row(f"{name} sample (characters)", lengths[a.pk][key], lengths[b.pk][key]))
    reasons = sorted(set(a.rejected_by_reason) | set(b.rejected_by_reason))
    rejects = [
        _row(
            REASON_LABELS.get(reason, reason),
            a.rejected_by_reason.get(reason, 0),
            b.rejected_by_reason.get(reason, 0),
        )
        for reason in reasons
    ]
    labels = sorted(set(a.label_counts) | set(b.label_counts))
    shares = [
        _row(
            label,
            _share(a.label_counts.get(label, 0), sum(a.label_counts.values())),
            _share(b.label_counts.get(label, 0), sum(b.label_counts.values())),
            shown="{:.1f}%",
        )
        for label in labels
    ]
    return {
        "basics": basics,
        "settings": [row for row in settings if row.differs],
        "same_settings": sum(1 for row in settings if not row.differs),
        "figures": figures,
        "rejects": rejects,
        "label_shares": shares,
        "samples": {
            "a": list(Sample.objects.filter(run=a).order_by("-id")[:SAMPLES_SHOWN]),
            "b": list(Sample.objects.filter(run=b).order_by("-id")[:SAMPLES_SHOWN]),
        },
    }


def _version(run: Run) -> str:
    return f"{run.spec_version.spec.name} v{run.spec_version.number}"


def _model(run: Run) -> str:
    provider = run.provider.name if run.provider else "deleted provider"
    return f"{provider}/{run.model}"


def _candidates(run: Run) -> int:
    return run.accepted + run.rejected + run.duplicates


def _acceptance(run: Run) -> float | None:
    return _share(run.accepted, _candidates(run))


def _duplicate_rate(run: Run) -> float | None:
    return _share(run.duplicates, _candidates(run))


def _cost_per(run: Run) -> float | None:
    cost = total_cost(run.usage_by_stage) if run.usage_by_stage else None
    return float(cost) / run.accepted if cost is not None and run.accepted else None
