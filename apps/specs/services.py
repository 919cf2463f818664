"""Writes for specs and their immutable versions, and the version check."""

import enum
import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.inputs import InputError, check_payload, check_storable
from apps.core.jobs import job_enqueue
from apps.core.models import Membership
from apps.core.services import require_editor

from . import checks
from .models import Spec, SpecCheck, SpecVersion, SpecVersionStatus, TaskType
from .seeds import MAX_SEEDS, MAX_UPLOAD_BYTES

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 120  # Spec.name's max_length
MAX_TEXT_CHARS = 20_000
MAX_REQUIREMENT_CHARS = 1_000
MAX_SCHEMA_BYTES = 100_000


class _Unset(enum.Enum):
    UNSET = "UNSET"


# "Keep the latest version's value": None is a real value for custom_schema.
UNSET: Final = _Unset.UNSET
# What a spec without versions (one made in the admin) has.
_EMPTY: dict[str, Any] = {
    "description": "",
    "instruction": "",
    "labels": [],
    "multi_label": False,
    "requirements": [],
    "seeds": [],
    "custom_schema": None,
}


def _clean_content(
    *,
    task_type: str,
    description: Any,
    instruction: Any,
    labels: Any,
    multi_label: bool,
    requirements: Any,
    seeds: Any,
    custom_schema: Any,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Content ready to store, and what cannot be stored at all (sizes and shapes).

    Whether the content makes a usable spec is for the check job (checks.py) to say.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field, text in (("description", description), ("instruction", instruction)):
        if not isinstance(text, str):
            add(field, "Must be text.")
        elif len(text) > MAX_TEXT_CHARS:
            add(field, f"At most {MAX_TEXT_CHARS:,} characters (got {len(text):,}).")
    if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
        add("labels", "Must be a list of strings.")
    elif len(labels) > checks.MAX_LABELS:
        add("labels", f"At most {checks.MAX_LABELS} labels (got {len(labels)}).")
    elif any(len(label) > checks.MAX_LABEL_CHARS for label in labels):
        add("labels", f"Each label can be at most {checks.MAX_LABEL_CHARS} characters.")
    if not isinstance(requirements, list | tuple) or not all(
        isinstance(x, str) for x in requirements
    ):
        add("requirements", "Must be a list of strings.")
    elif len(requirements) > checks.MAX_REQUIREMENTS:
        add(
            "requirements",
            f"At most {checks.MAX_REQUIREMENTS} requirements (got {len(requirements)}).",
        )
    elif any(len(r) > MAX_REQUIREMENT_CHARS for r in requirements):
        add("requirements", f"Each requirement can be at most {MAX_REQUIREMENT_CHARS} characters.")
    if not isinstance(seeds, list | tuple):
        add("seeds", "Must be a list of JSON objects.")
    else:
        bad = next((i for i, seed in enumerate(seeds, 1) if not isinstance(seed, dict)), None)
        if bad is not None:
            add("seeds", f"Seed {bad} is not a JSON object.")
        elif len(seeds) > MAX_SEEDS:
            add("seeds", f"At most {MAX_SEEDS:,} seeds (got {len(seeds):,}).")
        elif len(json.dumps(list(seeds)).encode()) > MAX_UPLOAD_BYTES:
            add("seeds", f"Seeds can be at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB of JSON.")
    if custom_schema is not None:
        if task_type != TaskType.CUSTOM:
            add("custom_schema", "Only custom specs take a JSON schema.")
        elif not isinstance(custom_schema, dict):
            add("custom_schema", "Must be a JSON object (a JSON Schema).")
        elif len(json.dumps(custom_schema).encode()) > MAX_SCHEMA_BYTES:
            add("custom_schema", f"At most {MAX_SCHEMA_BYTES // 1000} kB of JSON.")
    if not errors:
        # Nothing PostgreSQL cannot store, however the content came (API, form, file).
        fields = {"description": description, "instruction": instruction, "labels": labels}
        fields.update(requirements=requirements, custom_schema=custom_schema)
        for field, value in fields.items():
            try:
                check_storable(value, field)
            except InputError as exc:
                add(field, exc.message)
        for number, seed in enumerate(seeds, 1):
            try:
                check_payload(seed, f"Seed {number}")
            except InputError as exc:
                add("seeds", exc.message)
                break
    if errors:
        return {}, errors
    clean = {
        "description": description.strip(),
        "instruction": instruction.strip(),
        "labels": [label.strip() for label in labels],
        "multi_label": bool(multi_label) and task_type == TaskType.CLASSIFICATION,
        "requirements": [r.strip() for r in requirements if r.strip()],
        "seeds": list(seeds),
        "custom_schema": custom_schema,
    }
    return clean, errors


def _refuse_unusable(task_type: str, content: dict[str, Any]) -> None:
    """What the check job would fail, as a ValidationError before anything is stored.

    The pages ask for this: a person fixes the form at once. The API stores the version
    and lets the check job say why it FAILED (Dataframer's PENDING → FAILED).
    """
    judged = {k: v for k, v in content.items() if k != "instruction"}  # free text, no check
    problems = checks.version_problems(task_type=task_type, **judged)
    if problems:
        raise ValidationError({NON_FIELD_ERRORS: problems})


def _enqueue_check(version: SpecVersion) -> None:
    """Create the version's check job; its first step is sent once the version commits."""
    check = SpecCheck.objects.create(version=version)
    job_enqueue(kind_name="spec_check", pk=check.pk, step=0)


def _require_project(membership: Membership, spec: Spec) -> None:
    require_editor(membership)
    if spec.project_id != membership.project_id:
        raise PermissionDenied("This spec belongs to another project.")


def spec_create(
    *,
    membership: Membership,
    name: str,
    task_type: str,
    description: str,
    instruction: str = "",
    labels: Sequence[str] = (),
    multi_label: bool = False,
    requirements: Sequence[str] = (),
    seeds: Sequence[dict[str, Any]] = (),
    custom_schema: dict[str, Any] | None = None,
    user: User | None = None,
    refuse_unusable: bool = False,
) -> Spec:
    """A new spec with version 1, PENDING until the check job has looked at it."""
    require_editor(membership)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["A spec needs a name."]
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = [f"At most {MAX_NAME_CHARS} characters (got {len(name)})."]
    elif Spec.objects.filter(project=membership.project, name=name).exists():
        errors["name"] = [f"A spec named {name!r} already exists in this project."]
    if task_type not in TaskType.values:
        choices = TaskType.listed()
        errors["task_type"] = [f"{task_type!r} is not a task type: use one of {choices}."]
    content, content_errors = _clean_content(
        task_type=task_type,
        description=description,
        instruction=instruction,
        labels=labels,
        multi_label=multi_label,
        requirements=requirements,
        seeds=seeds,
        custom_schema=custom_schema,
    )
    errors.update(content_errors)
    if errors:
        raise ValidationError(errors)
    if refuse_unusable:
        _refuse_unusable(task_type, content)
    user = user or membership.user
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin loses cleanly
                spec = Spec.objects.create(
                    project=membership.project, name=name, task_type=task_type, created_by=user
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"name": f"A spec named {name!r} already exists in this project."}
            ) from exc
        version = SpecVersion.objects.create(spec=spec, number=1, created_by=user, **content)
        _enqueue_check(version)
    return spec


def spec_version_create(
    *,
    membership: Membership,
    spec: Spec,
    user: User | None = None,
    description: str | _Unset = UNSET,
    instruction: str | _Unset = UNSET,
    labels: Sequence[str] | _Unset = UNSET,
    multi_label: bool | _Unset = UNSET,
    requirements: Sequence[str] | _Unset = UNSET,
    seeds: Sequence[dict[str, Any]] | _Unset = UNSET,
    custom_schema: dict[str, Any] | _Unset | None = UNSET,
    refuse_unusable: bool = False,
) -> SpecVersion:
    """Version n+1 of a spec; fields not given are copied from the latest version."""
    _require_project(membership, spec)
    given = {
        "description": description,
        "instruction": instruction,
        "labels": labels,
        "multi_label": multi_label,
        "requirements": requirements,
        "seeds": seeds,
        "custom_schema": custom_schema,
    }
    with transaction.atomic():
        # The lock serialises edits of one spec, so two saves cannot both take number n+1.
        locked = Spec.objects.select_for_update().get(pk=spec.pk)
        latest = locked.versions.order_by("-number").first()
        merged: dict[str, Any] = {
            field: value if value is not UNSET else getattr(latest, field, _EMPTY[field])
            for field, value in given.items()
        }
        content, errors = _clean_content(task_type=locked.task_type, **merged)
        if errors:
            raise ValidationError(errors)
        if refuse_unusable:
            _refuse_unusable(locked.task_type, content)
        version = SpecVersion.objects.create(
            spec=locked,
            number=(latest.number if latest else 0) + 1,
            created_by=user or membership.user,
            **content,
        )
        locked.save(update_fields=["updated_at"])
        _enqueue_check(version)
    return version


def spec_version_reuse_or_create(
    *,
    membership: Membership,
    spec: Spec,
    user: User | None = None,
    refuse_unusable: bool = False,
    **content: Any,
) -> SpecVersion:
    """The latest version if it already holds exactly this content, else version n+1.

    For clients that send the whole spec with every request (Pioneer's /generate): the
    same request twice must not pile up identical versions.
    """
    latest = spec.versions.order_by("-number").first()
    if latest is not None:
        merged = {field: getattr(latest, field) for field in _EMPTY} | content
        clean, errors = _clean_content(task_type=spec.task_type, **merged)
        if not errors and all(getattr(latest, f) == v for f, v in clean.items()):
            return latest
    return spec_version_create(
        membership=membership, spec=spec, user=user, refuse_unusable=refuse_unusable, **content
    )


def spec_version_check(*, version: SpecVersion) -> SpecVersion:
    """Judge a PENDING version: SUCCEEDED, or FAILED with the reasons. Runs once per version."""
    try:
        errors = checks.version_problems(
            task_type=version.spec.task_type,
            description=version.description,
            labels=version.labels,
            multi_label=version.multi_label,
            requirements=version.requirements,
            seeds=version.seeds,
            custom_schema=version.custom_schema,
        )
    except Exception:
        # A version must never stay PENDING forever: its page would poll for good.
        logger.exception("spec version %s: the check crashed", version.pk)
        errors = ["The check could not finish (an internal error). Save a new version to retry."]
    status = SpecVersionStatus.FAILED if errors else SpecVersionStatus.SUCCEEDED
    # Conditional: a redelivered task or a second caller finds it decided and changes nothing.
    SpecVersion.objects.filter(pk=version.pk, status=SpecVersionStatus.PENDING).update(
        status=status, errors=errors, checked_at=timezone.now()
    )
    version.refresh_from_db(fields=["status", "errors", "checked_at"])
    return version


def spec_version_require_succeeded(version: SpecVersion, *, field: str = "spec_version") -> None:
    """For runs: only a SUCCEEDED version may be generated from (400 otherwise)."""
    if version.status != SpecVersionStatus.SUCCEEDED:
        raise ValidationError(
            {
                field: f"Spec '{version.spec.name}' version {version.number} is "
                f"{version.status}; only a SUCCEEDED version can be used."
            }
        )
