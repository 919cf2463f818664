"""The spec writer and the ZIP writer are jobs of the shared lifecycle: a lost message is
sent again by the reaper, and a second delivery of a step changes nothing."""

from datetime import timedelta

from django.utils import timezone

from apps.core.jobs import JobStatus, job_requeue_stale, job_step
from apps.dataframer.models import GeneratedSpec
from apps.specs.models import Spec
from tests.dataframer.test_bad_input import CSV


def test_a_spec_whose_message_was_lost_is_sent_again_and_written_once(df, settings):
    client = df.client.dataframer
    dataset = client.seed_datasets.create_with_files(
        name="tickets", dataset_type="SINGLE_FILE", files=[CSV]
    )
    spec = client.specs.create(name="tickets", dataset_id=dataset.id)
    row = GeneratedSpec.objects.get(uid=spec.id)
    assert job_requeue_stale(kind_name="dataframer_spec") == []  # not stale yet
    stale = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 5)
    GeneratedSpec.objects.filter(pk=row.pk).update(heartbeat_at=stale)
    assert job_requeue_stale(kind_name="dataframer_spec") == [row.pk]

    job_step(kind_name="dataframer_spec", pk=row.pk, step=0)
    assert job_step(kind_name="dataframer_spec", pk=row.pk, step=0) is None  # redelivered
    row.refresh_from_db()
    assert row.status == JobStatus.SUCCEEDED and row.steps_done == 1
    assert Spec.objects.filter(name="tickets").count() == 1
    assert len(df.responder.spec_calls) == 1
    assert client.specs.retrieve(spec.id).status == "SUCCEEDED"
