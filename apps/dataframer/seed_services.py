"""Writes for seed datasets: create from uploaded files or a ZIP, delete."""

import hashlib
from typing import Any

from django.db import IntegrityError, transaction

from apps.core.models import Membership
from apps.core.services import require_editor

from .errors import bad_request, conflict
from .models import DatasetType, SeedDataset, SeedFile
from .uploads import Upload, check_uploads

MAX_NAME_CHARS = 120
MAX_DESCRIPTION_CHARS = 5_000


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("name", "This field is required.")
    if len(value.strip()) > MAX_NAME_CHARS:
        raise bad_request("name", f"At most {MAX_NAME_CHARS} characters.")
    return value.strip()


def seed_dataset_create(
    *,
    membership: Membership,
    name: Any,
    dataset_type: Any,
    uploads: list[Upload],
    description: Any = "",
) -> SeedDataset:
    """A seed dataset of checked files (400 naming the field of a broken limit)."""
    require_editor(membership)
    name = _name(name)
    if dataset_type not in DatasetType.values:
        choices = ", ".join(DatasetType.values)
        raise bad_request("dataset_type", f"{dataset_type!r} is not one of {choices}.")
    description = description if isinstance(description, str) else ""
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise bad_request("description", f"At most {MAX_DESCRIPTION_CHARS:,} characters.")
    rows = check_uploads(dataset_type, uploads)
    if SeedDataset.objects.filter(project=membership.project, name=name).exists():
        raise conflict(f"A seed dataset named {name!r} already exists in this project.")
    try:
        with transaction.atomic():
            dataset = SeedDataset.objects.create(
                project=membership.project,
                name=name,
                description=description.strip(),
                dataset_type=dataset_type,
                sample_count=rows,
                created_by=membership.user,
            )
            SeedFile.objects.bulk_create(
                SeedFile(
                    dataset=dataset,
                    position=position,
                    path=upload.path,
                    file_type=upload.file_type,
                    size_bytes=len(upload.content),
                    sha256=hashlib.sha256(upload.content).hexdigest(),
                    content=upload.content,
                )
                for position, upload in enumerate(uploads)
            )
    except IntegrityError as exc:
        raise conflict(f"A seed dataset named {name!r} already exists in this project.") from exc
    return dataset


def seed_dataset_delete(*, membership: Membership, dataset: SeedDataset) -> None:
    require_editor(membership)
    if dataset.specs.exists():
        raise conflict("Specs use this seed dataset: delete them first.")
    dataset.delete()
