"""Write the near-duplicate bands of samples stored before bands existed (or by COPY)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datasets.models import Dataset
from apps.datasets.neardup import dataset_bands_build


class Command(BaseCommand):
    help = (
        "Write the near-duplicate bands of samples that have none (samples stored before "
        "near-duplicate detection existed, or copied in by seedbed_fake_dataset). "
        "Idempotent and batched: safe to stop and run again, and while workers write."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dataset", type=int, action="append", help="Dataset id (repeatable); default all."
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Recompute the bands of every sample (after the shingles or bands changed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        datasets = Dataset.objects.order_by("pk")
        if options["dataset"]:
            datasets = datasets.filter(pk__in=options["dataset"])
            missing = set(options["dataset"]) - set(datasets.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No dataset with id {', '.join(map(str, sorted(missing)))}.")
        for dataset in datasets.only("pk", "name"):
            samples, rows = dataset_bands_build(
                dataset_id=dataset.pk, batch_size=options["batch_size"], rebuild=options["rebuild"]
            )
            self.stdout.write(
                f"{dataset.name} (id {dataset.pk}): {samples:,} samples banded ({rows:,} bands)"
            )
