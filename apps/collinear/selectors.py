"""Reads for the fan-out's answer: the run's samples as they are committed."""

from __future__ import annotations

from typing import Any

from apps.datasets.models import Sample
from apps.runs.models import FINISHED, Run


def fan_out_rows(
    *, project_id: int, run_id: int, after_id: int, limit: int
) -> list[tuple[int, Any, Any]]:
    """(sample id, payload, the example it varies) of the run's samples after `after_id`,
    in commit order (one run's samples are committed by one step at a time)."""
    rows = (
        Sample.objects.filter(dataset__project_id=project_id, run_id=run_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", "payload", "lineage__original")[:limit]
    )
    return list(rows)


def run_finished(*, project_id: int, run_id: int) -> bool:
    return Run.objects.filter(project_id=project_id, pk=run_id, status__in=FINISHED).exists()
