"""Reads of specs. Every read takes the caller's project: another project's spec is a 404."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Func, IntegerField, OuterRef, QuerySet, Subquery
from django.http import Http404

from apps.core.models import Project

from .models import Spec, SpecVersion, SpecVersionStatus, TaskType


def spec_list(project: Project) -> QuerySet[Spec]:
    """The project's specs, newest change first, each with its latest version's number
    and status (`latest_number`, `latest_status`)."""
    latest = SpecVersion.objects.filter(spec=OuterRef("pk")).order_by("-number")
    return (
        Spec.objects.filter(project=project)
        .annotate(
            latest_number=Subquery(latest.values("number")[:1]),
            latest_status=Subquery(latest.values("status")[:1]),
        )
        .order_by("-updated_at", "-pk")
    )


def spec_get(project: Project, spec_id: int) -> Spec:
    try:
        return Spec.objects.select_related("project").get(project=project, pk=spec_id)
    except Spec.DoesNotExist as exc:
        raise Http404("No such spec.") from exc


class _JsonArrayLength(Func):
    # Counting in SQL lets listings defer the seeds themselves (up to 5 MB a version).
    template = (
        "CASE WHEN json_typeof(%(expressions)s) = 'array' "
        "THEN json_array_length(%(expressions)s) ELSE 0 END"
    )
    output_field = IntegerField()


def spec_version_list(spec: Spec) -> QuerySet[SpecVersion]:
    """Versions of a spec (already fetched through the caller's project), newest first,
    each with `seed_count`."""
    return (
        SpecVersion.objects.filter(spec=spec)
        .select_related("spec", "created_by")
        .annotate(seed_count=_JsonArrayLength(F("seeds")))
        .order_by("-number")
    )


def spec_version_table(spec: Spec) -> list[SpecVersion]:
    """The spec page's versions: without their seeds, each with `run_count` as well."""
    return list(spec_version_list(spec).defer("seeds").annotate(run_count=Count("runs")))


def spec_version_get(project: Project, version_id: int) -> SpecVersion:
    try:
        return SpecVersion.objects.select_related("spec").get(pk=version_id, spec__project=project)
    except SpecVersion.DoesNotExist as exc:
        raise Http404("No such spec version.") from exc


def spec_version_get_by_number(project: Project, spec_id: int, number: int) -> SpecVersion:
    try:
        return SpecVersion.objects.select_related("spec").get(
            spec_id=spec_id, spec__project=project, number=number
        )
    except SpecVersion.DoesNotExist as exc:
        raise Http404("No such spec version.") from exc


def spec_version_latest(spec: Spec) -> SpecVersion | None:
    return spec_version_list(spec).first()


def spec_version_latest_succeeded(spec: Spec) -> SpecVersion | None:
    return spec_version_list(spec).filter(status=SpecVersionStatus.SUCCEEDED).first()


@dataclass(frozen=True)
class LabelCount:
    label: str
    count: int
    in_spec: bool  # False: a seed uses a label the spec does not list


def _seed_labels(task_type: str, seed: Any) -> list[Any]:
    if not isinstance(seed, dict):
        return []
    if task_type == TaskType.NER:
        entities = seed.get("entities")
        if not isinstance(entities, list):
            return []
        return [e.get("label") for e in entities if isinstance(e, dict)]
    if task_type == TaskType.CLASSIFICATION:
        labels = seed.get("labels", [seed.get("label")])
        return labels if isinstance(labels, list) else []
    return []


def label_counts(version: SpecVersion) -> list[LabelCount]:
    """How often each label occurs in the seeds (NER: entity mentions; classification:
    seeds). The spec's labels come first, in their order, unused ones with 0."""
    if version.spec.task_type not in (TaskType.NER, TaskType.CLASSIFICATION):
        return []
    counts: dict[str, int] = dict.fromkeys(version.labels or [], 0)
    for seed in version.seeds or []:
        for label in _seed_labels(version.spec.task_type, seed):
            if isinstance(label, str):  # seeds are unchecked input: skip malformed labels
                counts[label] = counts.get(label, 0) + 1
    spec_labels = set(version.labels or [])
    return [LabelCount(label, n, label in spec_labels) for label, n in counts.items()]
