"""Writes for datasets, versions and samples."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F

from apps.core.models import Project

from .models import Dataset, DatasetVersion

MAX_DATASET_NAME = 120


@dataclass
class NewSample:
    payload: dict[str, Any]
    text: str
    text_hash: str
    labels: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    index: int | None = None


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
RETURNING index, text_hash
"""


def samples_insert(
    *, dataset_id: int, version: int, run_id: int | None, samples: Iterable[NewSample]
) -> set[str]:
    """Insert samples in one statement; returns the text hashes actually inserted.

    Rows whose (run, index) or normalised text already exist are skipped, which makes a
    redelivered chunk harmless and drops exact duplicates within the dataset.
    """
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
    if not rows:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_SQL,
            [dataset_id, version, run_id, json.dumps(rows, cls=DjangoJSONEncoder)],
        )
        return {text_hash for _, text_hash in cursor.fetchall()}
