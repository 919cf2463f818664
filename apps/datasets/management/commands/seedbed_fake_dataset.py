"""Create a large classification dataset quickly with PostgreSQL COPY (for benchmarks)."""

import json
import random
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from apps.core.models import Project
from apps.datasets.fake import tickets
from apps.datasets.models import Dataset, DatasetVersion, ReviewState, VersionSource
from apps.datasets.services import dataset_version_create
from apps.specs.texts import text_hash

COPY_SQL = """
COPY datasets_sample
    (dataset_id, version, payload, text, text_hash, labels, lineage, review_state, created_at)
FROM STDIN
"""


class Command(BaseCommand):
    help = "Create a dataset of realistic synthetic support tickets with COPY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project slug.")
        parser.add_argument("--name", default="big")
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument(
            "--versions", type=int, default=2, help="Rows are split evenly over n versions."
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project = Project.objects.get(slug=options["project"])
        except Project.DoesNotExist as exc:
            raise CommandError(f"No project with slug {options['project']!r}.") from exc
        if Dataset.objects.filter(project=project, name=options["name"]).exists():
            raise CommandError(f"Dataset {options['name']!r} already exists in this project.")
        rows, versions = options["rows"], max(1, options["versions"])
        started = time.monotonic()
        done = 0
        for n in range(versions):
            size = rows // versions + (1 if n < rows % versions else 0)
            self._copy_version(project, options["name"], size, done, options["seed"] + n)
            done += size
        with connection.cursor() as cursor:
            # Fresh statistics for the planner. Outside a transaction, VACUUM too: it sets
            # the visibility map (index-only scans) and spares the new rows an autovacuum
            # pass that would otherwise start in the middle of whatever comes next.
            vacuum = "" if connection.in_atomic_block else "VACUUM "
            cursor.execute(f"{vacuum}ANALYZE datasets_sample")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Created {options['name']!r}: {done:,} samples in {versions} versions "
            f"in {elapsed:.1f} s ({done / max(elapsed, 1e-9):,.0f} rows/s)."
        )

    @transaction.atomic
    def _copy_version(self, project: Project, name: str, size: int, start: int, seed: int) -> None:
        version = dataset_version_create(
            project=project,
            name=name,
            task_type="classification",
            source=VersionSource.IMPORT,
            note="Synthetic support tickets (seedbed_fake_dataset)",
        )
        rng = random.Random(seed)
        states = [ReviewState.UNREVIEWED, ReviewState.ACCEPTED, ReviewState.REJECTED]
        lineage = json.dumps({"source": "synthetic", "provider": "fake", "model": "templates"})
        now = timezone.now()
        labels: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        accepted = 0
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for text, label in tickets(size, seed=seed, start=start):
                labels[label] += 1
                state = rng.choices(states, (85, 10, 5))[0]
                if state == ReviewState.REJECTED:
                    rejected[label] += 1
                accepted += state == ReviewState.ACCEPTED
                copy.write_row(
                    (
                        version.dataset_id,
                        version.number,
                        json.dumps({"text": text, "label": label}, ensure_ascii=False),
                        text,
                        text_hash(text),
                        json.dumps([label]),
                        lineage,
                        state,
                        now,
                    )
                )
        # The counts are known here, so the version is closed without counting it again.
        DatasetVersion.objects.filter(pk=version.pk).update(
            added_count=size,
            added_labels=dict(labels),
            rejected_count=rejected.total(),
            rejected_labels=dict(rejected),
            accepted_count=accepted,
        )
