"""The whole Dataframer flow through pydataframer, with a real Celery worker: seed datasets
from files and from a ZIP → a spec written from the seeds → a run with revisions and a
filter → poll → download its files and the ZIP → cancel another run."""

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from apps.runs.models import Run, RunOrigin
from apps.specs.models import SpecVersionStatus
from tests.dataframer.conftest import LABELS, tickets_csv, zip_of
from tests.runs.workers import wait_for

pytestmark = [pytest.mark.slow]


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, procs) -> Any:
    result: list[Any] = []

    def check() -> bool:
        result[:] = [fetch()]
        return done(result[0])

    wait_for(check, 90, what, procs)
    return result[0]


def test_seeds_spec_run_files_and_cancel(df, celery_processes, fake_openai):
    celery_processes.start_worker()
    client = df.client.dataframer

    dataset = client.seed_datasets.create_with_files(
        name="tickets",
        dataset_type="SINGLE_FILE",
        files=[("tickets.csv", tickets_csv(), "text/csv")],
        description="Support tickets",
    )
    assert dataset.dataset_type == "SINGLE_FILE"
    assert dataset.sample_count == 6
    assert dataset.file_count == 1 and dataset.folder_count == 0
    assert dataset.created_by_email == "owner@example.com"
    assert [f.path for f in dataset.files] == ["tickets.csv"]
    assert dataset.files[0].file_type == "text/csv"

    notes = {f"note{n}.txt": f"Note {n}: call the customer back.".encode() for n in range(3)}
    zipped = client.seed_datasets.create_from_zip(
        name="notes", zip_file=("notes.zip", zip_of(notes), "application/zip")
    )
    assert zipped.dataset_type == "MULTI_FILE" and zipped.file_count == 3
    assert {d.name for d in client.seed_datasets.list()} == {"tickets", "notes"}
    seed_url = client.seed_datasets.files.download(zipped.files[0].id, dataset_id=zipped.id)
    assert httpx.get(seed_url.download_url).content == notes[zipped.files[0].path]

    spec = client.specs.create(
        name="ticket spec",
        dataset_id=dataset.id,
        generate_distributions=True,  # no model named: the project's default one
    )
    assert spec.status == "PROCESSING" and spec.content_yaml is None
    spec = poll(
        lambda: client.specs.retrieve(spec.id),
        lambda s: s.status != "PROCESSING",
        "the spec to be written",
        celery_processes,
    )
    assert spec.status == "SUCCEEDED", spec.error
    content = yaml.safe_load(spec.content_yaml)["spec"]
    fields = yaml.safe_load(spec.content_yaml)["metadata"]["fields"]
    assert fields == {"text": {"type": "string", "required": True}, "label": fields["label"]}
    assert [a["axis_name"] for a in content["data_property_variations"]] == ["tone", "product_area"]
    assert content["data_property_variations"][0]["probabilities"]["calm"] == 0.5
    assert "label matches" in content["requirements"]
    # The writer saw the seed rows and their fields.
    asked = df.responder.spec_calls[0]["messages"][-1]["content"]
    assert "text, label" in asked and "Ticket 0" in asked
    assert "content_location" not in client.specs.with_raw_response.retrieve(spec.id).json()

    run = client.runs.create(
        spec_id=spec.id,
        number_of_samples=10,
        generation_model="anthropic/claude-haiku-4-5",
        revision_model="anthropic/claude-haiku-4-5",
        revision_types=["coherence_flow", "conformance"],
        filtering_types=["structural"],
        max_revision_cycles=2,
        seed_shuffling_level="sample",
        max_examples_in_prompt=3,
    )
    assert run.status == "PENDING"
    assert run.runtime_params.revision_types == ["coherence_flow", "conformance"]
    assert run.runtime_params.max_revision_cycles == 2
    done = poll(
        lambda: client.runs.retrieve(run.id),
        lambda r: r.status in ("SUCCEEDED", "FAILED", "CANCELED"),
        "the run to finish",
        celery_processes,
    )
    assert done.status == "SUCCEEDED"
    assert done.samples_completed == 10 and done.samples_failed == 0
    assert done.completed_at is not None
    assert df.responder.pipeline.calls["judge"] > 0  # the revision checks ran
    seedbed_run = Run.objects.get(
        pk=client.runs.with_raw_response.retrieve(run.id).json()["seedbed_run_id"]
    )
    assert seedbed_run.origin == RunOrigin.DATAFRAMER
    assert seedbed_run.options.filtering_types == ("structural",)

    [generated] = done.generated_files
    assert generated.path == "generated.csv" and generated.file_type == "text/csv"
    link = client.runs.files.download(generated.id, run_id=run.id)
    assert link.filename == "generated.csv"
    body = httpx.get(link.download_url)  # no API key: the URL is signed
    assert body.status_code == 200 and len(body.content) == generated.size_bytes
    rows = list(csv.DictReader(io.StringIO(body.text)))
    assert len(rows) == 10 and {r["label"] for r in rows} <= set(LABELS)
    assert httpx.get(link.download_url + "x").status_code in (403, 404)

    first = client.runs.files.with_raw_response.download_all(run.id)
    assert first.status_code == 202
    archive = poll(
        lambda: client.runs.files.with_raw_response.download_all(run.id),
        lambda r: r.status_code == 200,
        "the ZIP",
        celery_processes,
    ).json()
    data = httpx.get(archive["download_url"]).content
    assert len(data) == archive["size_bytes"]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "generated.csv" in names and "top_level.metadata" in names

    fake_openai.script(latency=0.5)
    other = client.runs.create(spec_id=spec.id, number_of_samples=2000)
    client.runs.cancel(other.id)
    canceled = poll(
        lambda: client.runs.retrieve(other.id),
        lambda r: r.status not in ("PENDING", "PROCESSING"),
        "the cancel",
        celery_processes,
    )
    assert canceled.status == "CANCELED"
    assert [r.id for r in client.runs.list()] == [other.id, run.id]  # newest first

    # Edits make versions; runs can name one.
    edited = content | {"requirements": "Exactly one sentence."}
    updated = client.specs.update(spec.id, content_yaml=yaml.safe_dump({"spec": edited}))
    assert updated.status == "SUCCEEDED"
    versions = client.specs.retrieve(spec.id, include_versions=True).versions
    assert len(versions) == 2 and "Exactly one sentence." in versions[1].content_yaml
    assert seedbed_run.spec_version.spec.versions.get(number=2).status == (
        SpecVersionStatus.SUCCEEDED
    )

    # Delete: refused while runs exist, unless forced.
    with pytest.raises(Exception) as refused:
        client.specs.delete(spec.id)
    assert refused.value.status_code == 409
    client.runs.delete(other.id)
    client.specs.delete(spec.id, force=True)
    assert client.runs.list() == []
    client.seed_datasets.delete(dataset.id)
    assert [d.name for d in client.seed_datasets.list()] == ["notes"]
