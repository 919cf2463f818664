"""Reads for the Dataframer API, always scoped to the caller's project (404 otherwise)."""

import uuid

from django.db.models import Prefetch, QuerySet

from apps.core.models import Project

from .errors import not_found
from .models import DataframerRun, GeneratedSpec, SeedDataset, SeedFile


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise not_found(what) from exc


def seed_dataset_list(*, project: Project) -> QuerySet[SeedDataset]:
    """With each dataset's files (never their content): two queries for any number."""
    files = SeedFile.objects.only("id", "dataset_id", "path", "file_type", "size_bytes")
    return (
        SeedDataset.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related(Prefetch("files", queryset=files.order_by("position")))
    )


def seed_dataset_get(*, project: Project, dataset_id: str) -> SeedDataset:
    found = seed_dataset_list(project=project).filter(pk=_uuid(dataset_id, "seed dataset"))
    dataset = found.first()
    if dataset is None:
        raise not_found("seed dataset")
    return dataset


def seed_file_get(*, dataset: SeedDataset, file_id: str) -> SeedFile:
    found = dataset.files.filter(pk=_uuid(file_id, "file")).first()
    if found is None:
        raise not_found("file")
    return found


def generated_spec_list(*, project: Project) -> QuerySet[GeneratedSpec]:
    return GeneratedSpec.objects.filter(project=project).select_related(
        "seed_dataset", "created_by", "spec"
    )


def generated_spec_get(*, project: Project, spec_id: str) -> GeneratedSpec:
    spec = generated_spec_list(project=project).filter(uid=_uuid(spec_id, "spec")).first()
    if spec is None:
        raise not_found("spec")
    return spec


def dataframer_run_list(*, project: Project) -> QuerySet[DataframerRun]:
    return (
        DataframerRun.objects.filter(run__project=project)
        .select_related("run__spec_version", "run__created_by", "spec__seed_dataset")
        .order_by("-created_at")
    )


def dataframer_run_get(*, project: Project, run_id: str) -> DataframerRun:
    found = dataframer_run_list(project=project).filter(pk=_uuid(run_id, "run")).first()
    if found is None:
        raise not_found("run")
    return found
