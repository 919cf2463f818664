"""The migration that counts the rejected samples already stored."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.datasets.models import Sample
from tests.datasets.helpers import add_version, classification

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("datasets", "0005_version_field_order")]
AFTER = [("datasets", "0006_version_rejected_counts")]


@pytest.fixture
def executor():
    """A migration executor that puts every app back on its newest migration afterwards,
    so that the tests after this one find the schema the models describe."""
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_rejected_samples_are_counted_per_version(owner, executor):
    add_version(owner.project, "tickets", [classification(i) for i in range(6)])
    rejected = list(Sample.objects.order_by("id")[:2])
    Sample.objects.filter(pk__in=[s.pk for s in rejected]).update(review_state="rejected")
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rejected_count, rejected_labels FROM datasets_datasetversion")
        [(count, labels)] = cursor.fetchall()
    expected: dict[str, int] = {}
    for sample in rejected:
        for label in sample.labels:
            expected[label] = expected.get(label, 0) + 1
    assert count == 2
    assert json.loads(labels) == expected  # Django has psycopg hand jsonb over as text
