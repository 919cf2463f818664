"""Writes for datasets, versions and samples: versions, review, edits, imports, exports.

File parsing lives in `importing.py` and file writing in `export.py`; the services that
use them are here.
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.inputs import InputError, check_payload
from apps.core.jobs import FINISHED, job_enqueue
from apps.core.models import Membership, Project
from apps.core.services import require_editor
from apps.specs.models import TaskType
from apps.specs.seeds import label_list
from apps.specs.task_types import REASON_LABELS, REASON_UNKNOWN_LABEL, check_sample
from apps.specs.texts import text_hash

from . import importing, selectors
from .models import (
    Dataset,
    DatasetVersion,
    ExportFormat,
    ExportJob,
    ReviewState,
    Sample,
    VersionSource,
)

MAX_DATASET_NAME = 120


@dataclass
class NewSample:
    payload: dict[str, Any]
    text: str
    text_hash: str
    labels: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    index: int | None = None
    # Near-duplicate band keys, if the caller has them (minhash.Shingled); else computed.
    bands: list[int] | None = None


@transaction.atomic
def dataset_version_create(
    *,
    project: Project,
    name: str,
    task_type: str,
    source: str,
    user: Any = None,
    run: Any = None,
    note: str = "",
    field_order: list[str] | None = None,
) -> DatasetVersion:
    """Open version n+1 of the named dataset (creating the dataset at version 1).

    The new version holds every earlier sample plus whatever is inserted with its number.
    """
    name = name.strip()
    dataset, _ = Dataset.objects.select_for_update().get_or_create(
        project=project, name=name, defaults={"task_type": task_type}
    )
    Dataset.objects.filter(pk=dataset.pk).update(latest_version=F("latest_version") + 1)
    dataset.refresh_from_db(fields=["latest_version"])
    return DatasetVersion.objects.create(
        dataset=dataset,
        number=dataset.latest_version,
        source=source,
        run=run,
        note=note,
        field_order=field_order or [],
        created_by=user if user is not None and user.is_authenticated else None,
    )


INSERT_SQL = """
INSERT INTO datasets_sample
    (dataset_id, version, run_id, index, payload, text, text_hash, labels, lineage,
     review_state, created_at)
SELECT %s, %s, %s, s.index, s.payload, s.text, s.text_hash, s.labels, s.lineage,
       'unreviewed', now()
FROM jsonb_to_recordset(%s::jsonb)
     AS s(index integer, payload jsonb, text text, text_hash text, labels jsonb, lineage jsonb)
ON CONFLICT DO NOTHING
RETURNING id, text_hash
"""


def samples_insert(
    *, dataset_id: int, version: int, run_id: int | None, samples: Iterable[NewSample]
) -> set[str]:
    """Insert samples in one statement, and their near-duplicate bands (neardup.py) with one
    COPY, in one transaction; returns the text hashes actually inserted.

    Rows whose (run, index) or normalised text already exist are skipped, which makes a
    redelivered chunk harmless and drops exact duplicates within the dataset.
    """
    from .minhash import text_bands
    from .neardup import bands_copy

    samples = list(samples)
    if not samples:
        return set()
    rows = [
        {
            "index": s.index,
            "payload": s.payload,
            "text": s.text,
            "text_hash": s.text_hash,
            "labels": s.labels,
            "lineage": s.lineage,
        }
        for s in samples
    ]
    unbanded = [s for s in samples if s.bands is None]
    computed = iter(text_bands([s.text for s in unbanded]))
    # A text twice in the batch is inserted once (the first); its bands are the same.
    bands = {s.text_hash: s.bands if s.bands is not None else next(computed) for s in samples}
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            INSERT_SQL,
            [dataset_id, version, run_id, json.dumps(rows, cls=DjangoJSONEncoder)],
        )
        inserted = cursor.fetchall()
        bands_copy(dataset_id=dataset_id, samples=[(i, bands[h]) for i, h in inserted])
    return {text_hash for _, text_hash in inserted}


# --- closing versions: counts computed once ------------------------------------------


@transaction.atomic
def dataset_version_close(*, dataset_id: int, number: int) -> DatasetVersion:
    """Count a version's samples and labels once, when nothing more will be added to it.

    Idempotent; the run engine calls it when a run finishes, imports when they commit.
    Versions whose run has finished are also closed lazily when a page first looks.
    """
    version = DatasetVersion.objects.select_for_update().get(dataset_id=dataset_id, number=number)
    version.added_count = Sample.objects.filter(dataset_id=dataset_id, version=number).count()
    version.added_labels = selectors.version_label_counts(dataset_id=dataset_id, numbers=[number])[
        number
    ]
    version.save(update_fields=["added_count", "added_labels"])
    return version


@transaction.atomic
def dataset_version_finish(*, dataset_id: int, number: int) -> bool:
    """Close the version a run or labelling job filled; False if it added nothing and was
    dropped (see `dataset_version_discard_empty`)."""
    version = dataset_version_close(dataset_id=dataset_id, number=number)
    return version.added_count != 0 or not dataset_version_discard_empty(
        dataset_id=dataset_id, number=number
    )


@transaction.atomic
def dataset_version_discard_empty(*, dataset_id: int, number: int) -> bool:
    """Drop version `number` if a run or labelling job ended without adding a sample to it.

    Otherwise it would stay behind as a copy of the version before it. Only the latest
    version goes (numbers stay without gaps), and never version 1: an empty first
    version is the honest record of a dataset that holds nothing yet.
    """
    dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
    if number <= 1 or dataset.latest_version != number:
        return False
    if Sample.objects.filter(dataset_id=dataset_id, version=number).exists():
        return False
    DatasetVersion.objects.filter(dataset_id=dataset_id, number=number).delete()
    dataset.latest_version = number - 1
    dataset.save(update_fields=["latest_version"])
    return True


def _adjust_label_counts(sample: Sample, old: list[str], new: list[str]) -> None:
    """Keep a closed version's stored label counts right when an edit changes labels."""
    if sorted(old) == sorted(new):
        return
    version = (
        DatasetVersion.objects.select_for_update()
        .filter(dataset_id=sample.dataset_id, number=sample.version)
        .first()
    )
    if version is None or version.added_labels is None:
        return  # open versions are counted live
    counts = Counter(version.added_labels)
    counts.subtract(old)
    counts.update(new)
    version.added_labels = {label: n for label, n in counts.items() if n > 0}
    version.save(update_fields=["added_labels"])


# The per-version counter of each review state that has one.
STATE_COUNTERS = {
    ReviewState.ACCEPTED: "accepted_count",
    ReviewState.REJECTED: "rejected_count",
    ReviewState.EDITED: "edited_count",
}


def _adjust_review_counts(
    sample: Sample, old_state: str, new_state: str, old_labels: list[str], new_labels: list[str]
) -> None:
    """Keep the version's counts of accepted, edited and rejected samples (and the rejected
    ones' labels) right, in the caller's transaction: pages never count samples."""
    was, now = old_state == ReviewState.REJECTED, new_state == ReviewState.REJECTED
    if old_state == new_state and not (now and sorted(old_labels) != sorted(new_labels)):
        return
    version = DatasetVersion.objects.select_for_update().get(
        dataset_id=sample.dataset_id, number=sample.version
    )
    changed = {"rejected_labels"}
    for state, step in ((old_state, -1), (new_state, 1)):
        if name := STATE_COUNTERS.get(state):  # type: ignore[call-overload]
            setattr(version, name, getattr(version, name) + step)
            changed.add(name)
    counts = Counter(version.rejected_labels)
    if was:
        counts.subtract(old_labels)
    if now:
        counts.update(new_labels)
    version.rejected_labels = {label: n for label, n in counts.items() if n > 0}
    version.save(update_fields=sorted(changed))


# --- review and edit -------------------------------------------------------------------

REVIEWABLE = (ReviewState.ACCEPTED, ReviewState.REJECTED, ReviewState.UNREVIEWED)


def sample_review(*, membership: Membership, sample: Sample, state: str) -> Sample:
    """Accept or reject a sample (or put it back to unreviewed)."""
    require_editor(membership)
    # "edited" only comes back by an undo, to a sample that was edited before.
    restores_edit = state == ReviewState.EDITED and "before_edit" in (sample.lineage or {})
    if state not in REVIEWABLE and not restores_edit:
        allowed = ", ".join(REVIEWABLE)
        raise ValidationError({"review_state": f"review_state must be one of {allowed}."})
    with transaction.atomic():
        current = (
            Sample.objects.select_for_update().only("review_state", "labels").get(pk=sample.pk)
        )
        reviewed_at = timezone.now()
        Sample.objects.filter(pk=sample.pk).update(
            review_state=state, reviewed_by=membership.user, reviewed_at=reviewed_at
        )
        _adjust_review_counts(sample, current.review_state, state, current.labels, current.labels)
    sample.review_state = state
    sample.reviewed_by, sample.reviewed_at = membership.user, reviewed_at
    return sample


def sample_edit(*, membership: Membership, sample: Sample, payload: Any) -> Sample:
    """Replace a sample's payload after checking it like a generated one; state `edited`.

    An invalid payload raises ValidationError naming the problem and changes nothing.
    """
    require_editor(membership)
    try:
        check_payload(payload, "payload")
    except InputError as exc:
        raise ValidationError({"payload": exc.message}) from None
    content = selectors.edit_content(sample, payload)
    checked = check_sample(payload, content)
    if not checked.ok:
        message = f"{REASON_LABELS.get(checked.reason, checked.reason)}: {checked.detail}"
        if checked.reason == REASON_UNKNOWN_LABEL:
            message += f" (the labels: {label_list(content.labels)})"
        raise ValidationError({"payload": message})
    unknown = sorted(set(payload) - set(checked.payload)) if isinstance(payload, dict) else []
    if unknown:  # a sample keeps only its task's fields: say so rather than drop them
        kept = ", ".join(sorted(checked.payload))
        raise ValidationError(
            {"payload": f"Unknown field {', '.join(map(repr, unknown))}: a sample has {kept}."}
        )
    if checked.payload == sample.payload:
        return sample  # nothing changed: it stays as reviewed
    old_labels = list(sample.labels)
    lineage = dict(sample.lineage)
    # The first edit keeps what the generator wrote, so lineage still shows the origin.
    lineage.setdefault("before_edit", sample.payload)
    lineage["edited_by"] = membership.user.get_username()
    lineage["edited_at"] = timezone.now().isoformat()
    try:
        with transaction.atomic():
            Sample.objects.filter(pk=sample.pk).update(
                payload=checked.payload,
                text=checked.text,
                text_hash=text_hash(checked.text),
                labels=checked.labels,
                lineage=lineage,
                review_state=ReviewState.EDITED,
                reviewed_by=membership.user,
                reviewed_at=timezone.now(),
            )
            from .neardup import sample_bands_write

            sample_bands_write(dataset_id=sample.dataset_id, samples=[(sample.pk, checked.text)])
            _adjust_label_counts(sample, old_labels, checked.labels)
            _adjust_review_counts(
                sample, sample.review_state, ReviewState.EDITED, old_labels, checked.labels
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"payload": "Another sample of this dataset already has this text."}
        ) from exc
    sample.refresh_from_db()
    return sample


def sample_label(
    *, membership: Membership, sample: Sample, label: str = "", labels: list[str] | None = None
) -> Sample:
    """One label button: a single-label sample takes `label`, a multi-label one adds or
    removes it; or `labels` replaces them all (an undo). Checked like any edit."""
    require_editor(membership)
    payload = dict(sample.payload) if isinstance(sample.payload, dict) else {}
    multi = "labels" in payload and "label" not in payload
    if labels is None:
        if not label:
            raise ValidationError({"label": "Choose a label."})
        current = [x for x in payload.get("labels") or [] if isinstance(x, str)]
        toggled = [x for x in current if x != label] + ([] if label in current else [label])
        labels = toggled if multi else [label]
    if not all(isinstance(x, str) for x in labels):
        raise ValidationError({"label": "Labels are strings."})
    if multi:
        payload["labels"] = labels
    elif len(labels) == 1:
        payload["label"] = labels[0]
    else:
        raise ValidationError({"label": "A single-label sample has exactly one label."})
    return sample_edit(membership=membership, sample=sample, payload=payload)


def open_versions_close(*, dataset: Dataset) -> None:
    """Close versions whose run has finished but that nobody closed (a crashed finisher)."""
    pending = [
        v.number
        for v in selectors.version_rows(dataset)
        if v.added_count is None and getattr(v, "run_status", None) in FINISHED
    ]
    for number in pending:
        dataset_version_close(dataset_id=dataset.pk, number=number)
    if pending:
        dataset._version_rows = None  # type: ignore[attr-defined]


# --- import ----------------------------------------------------------------------------

IMPORT_BATCH = 2000


@dataclass
class ImportResult:
    dataset: Dataset
    version: DatasetVersion
    rows: int
    inserted: int
    duplicates: int


def _import_target(
    *, membership: Membership, name: str, task_type: str
) -> tuple[str, Dataset | None]:
    name = name.strip()
    if not name or len(name) > MAX_DATASET_NAME:
        raise ValidationError({"name": f"A dataset name is 1 to {MAX_DATASET_NAME} characters."})
    existing = selectors.dataset_get_by_name(membership.project, name)
    if existing is not None:
        if task_type and task_type != existing.task_type:
            raise ValidationError(
                {"task_type": f"Dataset {name!r} holds {existing.task_type} samples."}
            )
        return existing.task_type, existing
    if task_type not in TaskType.values:
        choices = TaskType.listed()
        raise ValidationError(
            {"task_type": f"Choose the task type of the new dataset {name!r} ({choices})."}
        )
    return task_type, None


@transaction.atomic
def dataset_import(
    *, membership: Membership, name: str, task_type: str, file_name: str, content: bytes
) -> ImportResult:
    """Import a JSONL or CSV file as a new version of the named dataset (created if new).

    All or nothing: any invalid row raises ValidationError({"file": [...]}) listing the
    first problems with their line numbers, and nothing is kept. Exact duplicates (within
    the file or of samples already in the dataset) are skipped and counted.
    """
    require_editor(membership)
    try:
        task_type, existing = _import_target(membership=membership, name=name, task_type=task_type)
    except ValidationError as exc:
        if problem := importing.type_problem(file_name):  # both problems at once
            raise ValidationError({**exc.message_dict, "file": [problem]}) from exc
        raise
    if len(content) > importing.MAX_IMPORT_BYTES:
        raise ValidationError({"file": "The file is larger than 50 MB."})
    try:
        examples = (
            selectors.sample_payloads(existing, importing.EXAMPLES)
            if existing is not None and task_type == TaskType.CUSTOM
            else []
        )
        checked_rows = importing.checked_rows(content, file_name, task_type, examples)
    except ValueError as exc:
        raise ValidationError({"file": [str(exc)]}) from exc
    version = dataset_version_create(
        project=membership.project,
        name=name,
        task_type=task_type,
        source=VersionSource.IMPORT,
        user=membership.user,
        note=f"Imported from {file_name}"[:300],
    )
    errors: list[str] = []
    rows = inserted = 0
    batch: list[NewSample] = []
    fields: dict[str, None] = {}  # the payload fields in the order the file has them

    def flush() -> int:
        done = samples_insert(
            dataset_id=version.dataset_id, version=version.number, run_id=None, samples=batch
        )
        batch.clear()
        return len(done)

    for row in checked_rows:
        rows += 1
        if row.error:
            errors.append(row.error)
            if len(errors) >= importing.MAX_REPORTED_ERRORS:
                errors.append(f"… stopped after {len(errors)} errors")
                break
            continue
        if errors:
            continue  # keep validating to report more lines; nothing will be kept
        assert row.checked is not None
        fields.update(dict.fromkeys(row.checked.payload))
        batch.append(
            NewSample(
                payload=row.checked.payload,
                text=row.checked.text,
                text_hash=text_hash(row.checked.text),
                labels=row.checked.labels,
                lineage=importing.lineage_of(row, file_name),
            )
        )
        if len(batch) >= IMPORT_BATCH:
            inserted += flush()
    if errors:
        raise ValidationError({"file": errors})  # rolls back the version and its samples
    if not rows:
        raise ValidationError({"file": "The file holds no rows."})
    inserted += flush()
    if not inserted:  # rolls back the version: it would only repeat the one before
        raise ValidationError(
            {"file": f"Nothing new: all {rows} rows are already in {name}; no version created."}
        )
    DatasetVersion.objects.filter(pk=version.pk).update(field_order=list(fields))
    dataset_version_close(dataset_id=version.dataset_id, number=version.number)
    version.refresh_from_db()
    return ImportResult(
        dataset=version.dataset,
        version=version,
        rows=rows,
        inserted=inserted,
        duplicates=rows - inserted,
    )


# --- export jobs -----------------------------------------------------------------------

STREAM_LIMIT = 50_000  # larger exports (and every Parquet file) are written by a worker


def export_version_check(*, dataset: Dataset, version: int | None) -> int:
    number = dataset.latest_version if version is None else version
    if not 1 <= number <= dataset.latest_version:
        raise ValidationError({"version": selectors.version_missing(dataset, number)})
    return number


def export_job_create(
    *,
    membership: Membership,
    dataset: Dataset,
    version: int | None,
    fmt: str,
    skip_rejected: bool = False,
) -> ExportJob:
    """Queue an export of a version to a file; the job row reports its progress."""
    if fmt not in ExportFormat.values:
        raise ValidationError({"format": f"format must be one of {', '.join(ExportFormat)}."})
    number = export_version_check(dataset=dataset, version=version)
    job = ExportJob.objects.create(
        project=membership.project,
        dataset=dataset,
        version=number,
        format=fmt,
        skip_rejected=skip_rejected,
        created_by=membership.user,
    )
    job_enqueue(kind_name="export", pk=job.pk, step=0)
    return job


def export_stream_check(*, dataset: Dataset, version: int | None, fmt: str) -> int:
    """The version to stream directly, or ValidationError saying to start a job instead."""
    if fmt not in (ExportFormat.JSONL, ExportFormat.CSV):
        why = (
            "Parquet files are written by an export job (POST …/exports/)"
            if fmt == ExportFormat.PARQUET
            else f"there is no format {fmt!r}"
        )
        raise ValidationError({"format": f"Streams are jsonl or csv; {why}."})
    number = export_version_check(dataset=dataset, version=version)
    size = selectors.version_size(dataset, number)
    if size > STREAM_LIMIT:
        raise ValidationError(
            {
                "version": f"Version {number} has {size:,} samples; exports over "
                f"{STREAM_LIMIT:,} samples run as a job (POST …/exports/)."
            }
        )
    return number
