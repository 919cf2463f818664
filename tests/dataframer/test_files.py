"""A run's files follow its seed dataset's layout: one file of rows, one file a sample, one
folder a sample, or `.txt` files for a seedless spec. Samples are written here directly
(the generation itself is test_flow's)."""

import hashlib

import httpx

from apps.core.jobs import JobStatus, job_step
from apps.dataframer.models import DataframerRun, GeneratedSpec
from apps.datasets.models import Sample
from apps.runs.models import Run
from tests.dataframer.conftest import zip_of


def _spec(client, **params):
    spec = client.dataframer.specs.create(**params)
    job_step(kind_name="dataframer_spec", pk=GeneratedSpec.objects.get(uid=spec.id).pk, step=0)
    written = client.dataframer.specs.retrieve(spec.id)
    assert written.status == "SUCCEEDED", written.error
    return written


def _finished_run(client, spec_id: str, payloads: list[dict]) -> str:
    """A run of the spec whose samples are `payloads`, marked SUCCEEDED."""
    created = client.dataframer.runs.create(spec_id=spec_id, number_of_samples=len(payloads))
    run = DataframerRun.objects.get(pk=created.id).run
    assert run.dataset_version is not None
    for index, payload in enumerate(payloads):
        text = str(payload)
        Sample.objects.create(
            dataset=run.dataset,
            version=run.dataset_version,
            run=run,
            index=index,
            payload=payload,
            text=text,
            text_hash=hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - a test key
        )
    Run.objects.filter(pk=run.pk).update(status=JobStatus.SUCCEEDED, accepted=len(payloads))
    return created.id


def test_folders_become_one_folder_a_sample(df):
    client = df.client
    members = {
        "doc1/letter.txt": b"Dear Sir,",
        "doc1/reply.md": b"# Reply\nThanks.",
        "doc2/letter.txt": b"Hello,",
        "doc2/reply.md": b"# Reply\nNo.",
    }
    dataset = client.dataframer.seed_datasets.create_from_zip(
        name="letters", zip_file=("l.zip", zip_of(members), "application/zip")
    )
    assert dataset.dataset_type == "MULTI_FOLDER"
    spec = _spec(client, name="letters", dataset_id=dataset.id)
    seeds = GeneratedSpec.objects.get(uid=spec.id).spec.versions.get(number=1).seeds
    assert seeds[0] == {"file_1": "Dear Sir,", "file_2": "# Reply\nThanks."}
    run_id = _finished_run(
        client, spec.id, [{"file_1": f"Letter {n}", "file_2": f"# Reply {n}"} for n in range(2)]
    )
    run = client.dataframer.runs.retrieve(run_id)
    assert [f.path for f in run.generated_files] == [
        "sample_00001/letter.txt",
        "sample_00001/reply.md",
        "sample_00002/letter.txt",
        "sample_00002/reply.md",
    ]
    reply = run.generated_files[3]
    assert reply.file_type == "text/markdown"
    link = client.dataframer.runs.files.download(reply.id, run_id=run_id)
    assert link.filename == "reply.md" and httpx.get(link.download_url).text == "# Reply 1"


def test_files_and_seedless_specs_write_a_file_a_sample(df):
    client = df.client
    files = [(f"note{n}.md", f"Note {n}".encode(), "text/markdown") for n in range(3)]
    dataset = client.dataframer.seed_datasets.create_with_files(
        name="notes", dataset_type="MULTI_FILE", files=files
    )
    spec = _spec(client, name="notes", dataset_id=dataset.id)
    run = client.dataframer.runs.retrieve(_finished_run(client, spec.id, [{"content": "New"}]))
    [file] = run.generated_files
    assert (file.path, file.file_type, file.size_bytes) == ("sample_00001.md", "text/markdown", 3)

    seedless = _spec(client, name="ideas", generation_objectives="Short product ideas.")
    assert seedless.dataset_id is None and seedless.dataset_type == "MULTI_FILE"
    run = client.dataframer.runs.retrieve(_finished_run(client, seedless.id, [{"text": "Idea"}]))
    assert [f.path for f in run.generated_files] == ["sample_00001.txt"]
