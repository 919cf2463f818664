"""The JSON shapes pydataframer 0.19.2 reads (its `types/dataframer/*_response.py`).
Nothing here carries `content_location`: content is always inline."""

from typing import Any

from apps.core.jobs import JobStatus
from apps.runs.models import Run
from apps.runs.selectors import run_cost
from apps.specs.models import SpecVersion, SpecVersionStatus

from .models import DataframerRun, DatasetType, GeneratedSpec, SeedDataset

RUN_STATUS = {
    JobStatus.QUEUED: "PENDING",
    JobStatus.RUNNING: "PROCESSING",
    JobStatus.SUCCEEDED: "SUCCEEDED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "CANCELED",
}


def _email(user: Any) -> str | None:
    return (user.email or user.username) if user is not None else None


def seed_dataset_json(dataset: SeedDataset, *, files: bool = True) -> dict[str, Any]:
    rows = list(dataset.files.all())  # prefetched by the selectors, content left out
    data: dict[str, Any] = {
        "id": str(dataset.id),
        "name": dataset.name,
        "description": dataset.description,
        "dataset_type": dataset.dataset_type,
        "file_count": len(rows),
        "folder_count": len({f.folder for f in rows if f.folder}),
        "created_at": dataset.created_at,
        "created_by_email": _email(dataset.created_by),
    }
    if files:
        data["sample_count"] = dataset.sample_count
        data["files"] = [
            {"id": str(f.id), "file_type": f.file_type, "path": f.path, "size_bytes": f.size_bytes}
            for f in rows
        ]
    return data


def _latest_version(spec: GeneratedSpec) -> SpecVersion | None:
    if spec.spec is None:
        return None
    return spec.spec.versions.order_by("-number").first()


def spec_status(spec: GeneratedSpec) -> tuple[str, str | None]:
    """PROCESSING, SUCCEEDED or FAILED (with the reason): the job's, then the check's of
    the Seedbed version it made."""
    if spec.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return "FAILED", spec.error or "The spec could not be generated."
    version = _latest_version(spec)
    if not spec.is_finished or version is None or version.status == SpecVersionStatus.PENDING:
        return "PROCESSING", None
    if version.status == SpecVersionStatus.FAILED:
        return "FAILED", " ".join(version.errors) or "The spec is not usable."
    return "SUCCEEDED", None


def _dataset_fields(dataset: SeedDataset | None) -> dict[str, Any]:
    return {
        "dataset_id": str(dataset.id) if dataset else None,
        "dataset_name": dataset.name if dataset else None,
        "dataset_type": dataset.dataset_type if dataset else DatasetType.MULTI_FILE.value,
    }


def spec_summary_json(spec: GeneratedSpec) -> dict[str, Any]:
    status, _ = spec_status(spec)
    return {
        "id": str(spec.uid),
        "name": spec.name,
        "description": spec.description,
        "status": status,
        "created_at": spec.created_at,
        **_dataset_fields(spec.seed_dataset),
    }


def spec_json(spec: GeneratedSpec, *, include_versions: bool = False) -> dict[str, Any]:
    status, error = spec_status(spec)
    yamls = list(spec.yamls.order_by("number")) if status != "PROCESSING" else []
    data = {
        **spec_summary_json(spec),
        "error": error,
        "content_yaml": yamls[-1].content_yaml if yamls and status == "SUCCEEDED" else None,
        "runtime_params": spec.runtime_params,
        "updated_at": spec.updated_at,
        "created_by_email": _email(spec.created_by),
        "seedbed_spec_id": spec.spec_id,
    }
    if include_versions:
        data["versions"] = (
            [{"content_yaml": y.content_yaml, "created_at": y.created_at} for y in yamls]
            if status == "SUCCEEDED"
            else []
        )
    return data


def _samples_failed(run: Run) -> int:
    if run.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        return 0
    return max(0, run.num_samples - run.accepted)


def run_summary_json(dataframer_run: DataframerRun) -> dict[str, Any]:
    run = dataframer_run.run
    spec = dataframer_run.spec
    cost = run_cost(run.usage_by_stage)
    return {
        "id": str(dataframer_run.id),
        "status": RUN_STATUS[JobStatus(run.status)],
        "spec_id": str(spec.uid),
        "spec_name": spec.name,
        "spec_version": run.spec_version.number,
        **_dataset_fields(spec.seed_dataset),
        "samples_completed": run.accepted,
        "samples_failed": _samples_failed(run),
        "total_cost": float(cost) if cost is not None else None,
        "created_at": dataframer_run.created_at,
        "created_by_email": _email(run.created_by),
        "completed_at": run.finished_at,
    }


def run_json(dataframer_run: DataframerRun, files: list[dict[str, Any]]) -> dict[str, Any]:
    run = dataframer_run.run
    return {
        **run_summary_json(dataframer_run),
        "runtime_params": dataframer_run.runtime_params,
        "generated_files": files,
        "error": run.error or None,
        "seedbed_run_id": run.pk,
    }
