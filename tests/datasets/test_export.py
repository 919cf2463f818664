import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from apps.datasets import export, jobs, services
from apps.datasets.models import Dataset, ExportJob, Sample
from tests.datasets.helpers import add_version, classification, ner
from tests.factories import MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db


def export_step(job_id: int) -> ExportJob | None:
    """Step 0 of an export job in this process (what a worker does): the job after it, or
    None when the step was not this delivery's to run."""
    from apps.core.jobs import job_step

    if job_step(kind_name="export", pk=job_id, step=0) is None:
        return None
    return ExportJob.objects.get(pk=job_id)


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def ner_dataset(owner) -> Dataset:
    add_version(owner.project, "people", [ner(i) for i in range(3)], task_type="ner")
    add_version(owner.project, "people", [ner(i) for i in range(3, 5)], task_type="ner")
    Sample.objects.filter(text__contains="day 1.").update(review_state="rejected")
    return Dataset.objects.get(name="people")


@pytest.fixture
def tickets(owner) -> Dataset:
    payloads = [classification(i) for i in range(4)]
    payloads.append({"text": 'Quotes " and, commas\nand a newline', "label": "billing"})
    payloads.append({"text": "Two labels at once", "labels": ["account", "billing"]})
    add_version(owner.project, "tickets", payloads)
    return Dataset.objects.get(name="tickets")


def _expected(dataset: Dataset, version: int | None = None) -> list[Sample]:
    samples = Sample.objects.filter(dataset=dataset).order_by("id")
    return list(samples.filter(version__lte=version) if version else samples)


def _stream(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def _export_file(client, dataset: Dataset, fmt: str) -> bytes:
    """The exported file: streamed for JSONL and CSV, written by a job for Parquet."""
    url = f"/datasets/{dataset.pk}/export/"
    if fmt != "parquet":
        return _stream(client, url, format=fmt)
    assert client.post(url, {"format": fmt}).status_code == 200
    job = ExportJob.objects.latest("pk")
    export_step(job.pk)
    return _stream(client, f"/datasets/exports/{job.pk}/download/")


def test_jsonl_loads_back_equal_with_pandas(owner_client, ner_dataset):
    url = f"/datasets/{ner_dataset.pk}/export/"
    body = _stream(owner_client, url, format="jsonl", version=1)
    frame = pd.read_json(io.BytesIO(body), lines=True)
    expected = _expected(ner_dataset, 1)
    assert len(frame) == 3
    assert list(frame.columns[:2]) == ["text", "entities"]
    assert frame["text"].tolist() == [s.payload["text"] for s in expected]
    assert frame["entities"].tolist() == [s.payload["entities"] for s in expected]
    assert frame["sample_id"].tolist() == [s.pk for s in expected]
    assert frame["review_state"].tolist() == [s.review_state for s in expected]
    assert frame["model"].tolist() == ["test-model"] * 3


def test_csv_loads_back_equal_with_pandas(owner_client, tickets):
    body = _stream(owner_client, f"/datasets/{tickets.pk}/export/", format="csv")
    frame = pd.read_csv(io.BytesIO(body), keep_default_na=False)
    expected = _expected(tickets)
    assert list(frame.columns[:3]) == ["text", "label", "labels"]
    assert frame["text"].tolist() == [s.text for s in expected]
    assert frame["label"].tolist() == [s.payload.get("label", "") for s in expected]
    labels = [json.loads(v) if v else None for v in frame["labels"]]
    assert labels == [s.payload.get("labels") for s in expected]
    assert frame["sample_id"].tolist() == [s.pk for s in expected]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(owner, owner_client):
    """OWASP's CSV injection advice: a cell starting with = + - @ tab or CR gets a leading
    ', and a separator inside a value cannot start a new cell (the cell is quoted)."""
    texts = ["=HYPERLINK(\"http://x.example\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx",
             "\rz", "fine", "a,=1+1", "b;=1+1", "'=already"]  # fmt: skip
    add_version(owner.project, "formulas", [{"text": t, "label": "bug"} for t in texts])
    dataset = Dataset.objects.get(name="formulas")
    body = _stream(owner_client, f"/datasets/{dataset.pk}/export/", format="csv").decode()
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [r["text"] for r in rows] == [
        "'=HYPERLINK(\"http://x.example\",\"y\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx",
        "'\rz", "fine", "a,=1+1", "b;=1+1", "'=already",
    ]  # fmt: skip
    assert '"b;=1+1"' in body  # quoted: a spreadsheet splitting on ; keeps it one cell
    assert [int(r["sample_id"]) for r in rows] == [s.pk for s in _expected(dataset)]
    assert f',{rows[0]["sample_id"]},1,"' in body  # sample_id and version stay numbers


def test_parquet_job_loads_back_equal_with_pandas(owner, owner_client, ner_dataset, media):
    response = owner_client.post(
        f"/datasets/{ner_dataset.pk}/export/", {"format": "parquet", "version": 2}
    )
    assert response.status_code == 200
    job = ExportJob.objects.get()
    assert f'hx-get="/datasets/exports/{job.pk}/"' in response.content.decode()
    assert 'hx-trigger="every 2s"' in response.content.decode()

    export_step(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows) == ("SUCCEEDED", 5)
    assert (media / job.file).is_file() and job.size > 0

    status = owner_client.get(f"/datasets/exports/{job.pk}/").content.decode()
    assert "every 2s" not in status  # polling stops once the job is done
    assert f'href="/datasets/exports/{job.pk}/download/"' in status

    download = owner_client.get(f"/datasets/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="people-v2.parquet"'
    frame = pd.read_parquet(io.BytesIO(b"".join(download.streaming_content)))
    expected = _expected(ner_dataset)
    assert frame["text"].tolist() == [s.text for s in expected]
    entities = [[dict(e) for e in row] for row in frame["entities"]]
    assert entities == [s.payload["entities"] for s in expected]
    assert frame["version"].tolist() == [1, 1, 1, 2, 2]
    assert frame["review_state"].tolist() == [s.review_state for s in expected]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_format_loads_back_equal_with_hugging_face_datasets(
    owner_client, tickets, tmp_path, monkeypatch, fmt
):
    # Offline (read when the library is imported), with its cache in this test's directory.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    path = tmp_path / f"tickets.{fmt}"
    path.write_bytes(_export_file(owner_client, tickets, fmt))
    load = {
        "jsonl": datasets.Dataset.from_json,
        "csv": datasets.Dataset.from_csv,
        "parquet": datasets.Dataset.from_parquet,
    }[fmt]
    loaded = load(str(path), cache_dir=str(tmp_path / "hf-cache"))
    expected = _expected(tickets)
    assert loaded.num_rows == len(expected) == 6
    assert loaded.column_names[:2] == ["text", "label"]
    assert loaded["text"] == [s.text for s in expected]
    assert loaded["sample_id"] == [s.pk for s in expected]
    assert loaded["review_state"] == [s.review_state for s in expected]
    labels = loaded["labels"]
    if fmt == "csv":  # a CSV cell holds a list as JSON
        labels = [json.loads(v) if v else None for v in labels]
    assert labels == [s.payload.get("labels") for s in expected]


def test_parquet_writes_bounded_row_groups(owner, monkeypatch, media):
    monkeypatch.setattr(export, "ROW_GROUP", 4)
    add_version(owner.project, "tickets", [classification(i) for i in range(10)])
    dataset = Dataset.objects.get(name="tickets")
    path = media / "t.parquet"
    with path.open("wb") as sink:
        assert export.export_to_file(dataset, 1, "parquet", sink) == 10
    meta = pq.ParquetFile(path).metadata
    assert (meta.num_rows, meta.num_row_groups) == (10, 3)


def test_custom_payloads_export_with_their_own_columns(owner, media):
    rows = [
        {"question": "2+2?", "answer": 4, "tags": ["math"], "ok": True},
        {"question": "Capital of France?", "answer": 7, "tags": [], "ok": False},
    ]
    add_version(owner.project, "qa", rows, task_type="custom")
    dataset = Dataset.objects.get(name="qa")
    columns = export.export_columns(dataset, 1)
    kinds = {c.name: c.kind for c in columns if not c.meta}
    assert kinds == {"question": "str", "answer": "int", "tags": "json", "ok": "bool"}
    path = media / "qa.parquet"
    with path.open("wb") as sink:
        export.export_to_file(dataset, 1, "parquet", sink)
    frame = pd.read_parquet(path)
    assert frame["answer"].tolist() == [4, 7]
    assert [json.loads(t) for t in frame["tags"]] == [["math"], []]
    assert frame["ok"].tolist() == [True, False]


def test_an_imported_custom_file_exports_its_columns_in_the_file_order(owner, owner_client):
    lines = [
        {"question": "2+2?", "answer": "4", "tags": ["math"], "ok": True},
        {"question": "Capital of France?", "answer": "Paris", "tags": [], "ok": True, "hint": "x"},
    ]
    content = "\n".join(json.dumps(line) for line in lines).encode()
    result = services.dataset_import(
        membership=owner, name="qa", task_type="custom", file_name="qa.jsonl", content=content
    )
    url = f"/datasets/{result.dataset.pk}/export/"

    csv_file = b"".join(owner_client.get(url, {"format": "csv"}).streaming_content)

    header = next(csv.reader(io.StringIO(csv_file.decode())))
    assert header[:5] == ["question", "answer", "tags", "ok", "hint"]  # not jsonb's ok, hint…


def test_a_custom_dataset_refuses_rows_of_another_shape(owner):
    def upload(rows: list[dict]) -> Any:
        content = "\n".join(json.dumps(row) for row in rows).encode()
        return services.dataset_import(
            membership=owner, name="qa", task_type="custom", file_name="qa.jsonl", content=content
        )

    upload([{"question": "2+2?", "answer": "4"}, {"question": "3+3?", "answer": "6"}])
    with pytest.raises(ValidationError) as refused:
        upload([{"text": "Where is my parcel?", "label": "shipping"}])

    assert "line 1: Does not follow the schema" in str(refused.value)
    assert "'answer' is a required property" in str(refused.value)
    assert Sample.objects.filter(dataset__name="qa").count() == 2
    assert upload([{"question": "4+4?", "answer": "8"}]).version.number == 2


def test_export_reimports_unchanged(owner, owner_client, ner_dataset):
    body = _stream(owner_client, f"/datasets/{ner_dataset.pk}/export/", format="jsonl")
    result = services.dataset_import(
        membership=owner, name="copy", task_type="ner", file_name="people.jsonl", content=body
    )
    assert result.inserted == 5
    copied = Sample.objects.filter(dataset=result.dataset).order_by("id")
    assert [s.payload for s in copied] == [s.payload for s in _expected(ner_dataset)]


def test_rejected_samples_can_be_left_out_of_an_export(owner_client, owner_key, ner_dataset):
    kept = Sample.objects.filter(dataset=ner_dataset).exclude(review_state="rejected")
    assert 0 < kept.count() < 5  # the fixture rejected some
    page = owner_client.get(f"/datasets/{ner_dataset.pk}/").content.decode()
    assert '<input type="checkbox" name="skip_rejected" value="1" checked>' in page
    assert '<button class="small outline" name="format" value="csv">CSV</button>' in page

    url = f"/datasets/{ner_dataset.pk}/export/"
    response = owner_client.get(url, {"format": "csv", "skip_rejected": "1"})
    assert response["Content-Disposition"].endswith('people-v2-without-rejected.csv"')
    frame = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert frame["sample_id"].tolist() == sorted(s.pk for s in kept)
    assert "rejected" not in frame["review_state"].tolist()
    everything = _stream(owner_client, url, format="csv")  # unticked: every sample
    assert len(pd.read_csv(io.BytesIO(everything))) == 5

    job_row = owner_client.post(url, {"format": "parquet", "skip_rejected": "on"})
    assert "without rejected" in job_row.content.decode()
    job = ExportJob.objects.get()
    export_step(job.pk)
    job.refresh_from_db()
    assert (job.skip_rejected, job.rows) == (True, kept.count())

    api = Client(HTTP_X_API_KEY=owner_key)
    api_url = f"/api/v1/datasets/{ner_dataset.pk}/export"
    streamed = _stream(api, api_url, format="jsonl", skip_rejected="true")
    assert len(streamed.decode().splitlines()) == kept.count()
    bad = api.get(api_url, {"skip_rejected": "maybe"})
    assert bad.status_code == 400 and "skip_rejected" in bad.json()
    created = api.post(
        f"/api/v1/datasets/{ner_dataset.pk}/exports/",
        {"format": "jsonl", "skip_rejected": True},
        content_type="application/json",
    )
    assert created.status_code == 202 and created.json()["skip_rejected"] is True


def test_big_versions_export_through_a_job(owner_client, owner_key, tickets, monkeypatch):
    monkeypatch.setattr(services, "STREAM_LIMIT", 5)
    page = owner_client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert "?format=jsonl" not in page  # no direct link: a job writes the file
    assert 'hx-vals=\'{"format": "jsonl", "version": "1"}\'' in page
    response = owner_client.get(f"/datasets/{tickets.pk}/export/", {"format": "jsonl"})
    assert response.status_code == 400
    response = Client().get(
        f"/api/v1/datasets/{tickets.pk}/export", {"format": "csv"}, HTTP_X_API_KEY=owner_key
    )
    assert response.status_code == 400
    assert "run as a job" in response.json()["version"][0]


def test_export_api_stream_and_job(owner_key, tickets, media):
    client = Client(HTTP_X_API_KEY=owner_key)
    response = client.get(
        f"/api/v1/datasets/{tickets.pk}/export", {"format": "jsonl", "version": 1}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["label"] == "billing"

    for fmt, why in (
        ("xml", "Streams are jsonl or csv; there is no format 'xml'."),
        ("parquet", "Streams are jsonl or csv; Parquet files are written by an export job"),
    ):
        refused = client.get(f"/api/v1/datasets/{tickets.pk}/export", {"format": fmt})
        assert refused.status_code == 400 and refused.json()["format"][0].startswith(why)
    assert client.get(f"/api/v1/datasets/{tickets.pk}/export", {"version": 9}).status_code == 400

    response = client.post(
        f"/api/v1/datasets/{tickets.pk}/exports/",
        {"format": "csv"},
        content_type="application/json",
    )
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["version"], job["download_url"]) == ("QUEUED", 1, None)
    export_step(job["id"])
    job = client.get(f"/api/v1/exports/{job['id']}/").json()
    assert job["status"] == "SUCCEEDED" and job["rows"] == 6
    assert job["download_url"].endswith(f"/api/v1/exports/{job['id']}/download/")
    download = client.get(job["download_url"])
    frame = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)), keep_default_na=False)
    assert len(frame) == 6

    bad = client.post(
        f"/api/v1/datasets/{tickets.pk}/exports/",
        {"format": "xls"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "format" in bad.json()


def test_a_redelivered_job_is_not_written_twice(owner, tickets):
    job = services.export_job_create(membership=owner, dataset=tickets, version=1, fmt="jsonl")
    assert export_step(job.pk).status == "SUCCEEDED"
    assert export_step(job.pk) is None  # finished: nothing to do


def test_exports_of_other_projects_are_404(owner_client, owner_key, media):
    other = MembershipFactory()
    add_version(other.project, "secret", [classification(i) for i in range(2)])
    dataset = Dataset.objects.get(name="secret")
    job = services.export_job_create(membership=other, dataset=dataset, version=1, fmt="jsonl")
    export_step(job.pk)

    assert (
        owner_client.get(f"/datasets/{dataset.pk}/export/", {"format": "jsonl"}).status_code == 404
    )
    assert (
        owner_client.post(f"/datasets/{dataset.pk}/export/", {"format": "csv"}).status_code == 404
    )
    assert owner_client.get(f"/datasets/exports/{job.pk}/").status_code == 404
    assert owner_client.get(f"/datasets/exports/{job.pk}/download/").status_code == 404
    api = Client(HTTP_X_API_KEY=owner_key)
    assert api.get(f"/api/v1/exports/{job.pk}/").status_code == 404
    assert api.get(f"/api/v1/exports/{job.pk}/download/").status_code == 404
    assert api.get(f"/api/v1/datasets/{dataset.pk}/export").status_code == 404
    assert api.post(f"/api/v1/datasets/{dataset.pk}/exports/", {"format": "csv"}).status_code == 404
    # The owner of the other project can download it.
    assert (
        Client(HTTP_X_API_KEY=api_key_for(other))
        .get(f"/api/v1/exports/{job.pk}/download/")
        .status_code
        == 200
    )


def test_streams_arrive_in_chunks(owner_client, tickets, monkeypatch):
    monkeypatch.setattr(export, "FLUSH_ROWS", 2)
    response = owner_client.get(f"/datasets/{tickets.pk}/export/", {"format": "jsonl"})
    chunks = list(response.streaming_content)
    assert len(chunks) == 3 and all(chunk.count(b"\n") == 2 for chunk in chunks)
    response = owner_client.get(f"/datasets/{tickets.pk}/export/", {"format": "csv"})
    assert len(list(response.streaming_content)) == 4  # header with 2 rows, 2 + 2, rest


def test_the_celery_task_runs_the_job(
    owner, tickets, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.core.tasks import job_step_task

    sent: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(
        job_step_task, "apply_async", lambda args, **options: sent.append((args, options))
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = services.export_job_create(membership=owner, dataset=tickets, version=1, fmt="csv")
    # Sent once the row is committed, with the primary key only and the export's own limits.
    ((args, options),) = sent
    assert args == ("export", job.pk, 0)
    assert (options["soft_time_limit"], options["time_limit"]) == (1500, 1600)
    job_step_task(*args)  # what a worker runs
    job.refresh_from_db()
    assert (job.status, job.rows, job.steps_done) == ("SUCCEEDED", 6, 1)
    assert job.started_at and job.finished_at and job.file


def test_a_lost_export_is_resumed_by_the_generic_reaper(
    owner, tickets, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.jobs import job_claim, job_requeue_stale, kind_named
    from apps.core.tasks import job_step_task

    sent: list[tuple] = []
    monkeypatch.setattr(job_step_task, "apply_async", lambda args, **options: sent.append(args))
    job = services.export_job_create(membership=owner, dataset=tickets, version=1, fmt="jsonl")
    # A worker claims the step, then is killed before writing anything.
    assert job_claim(kind_named("export"), pk=job.pk, step=0)
    settings.RUN_STALE_SECONDS = 30
    with django_capture_on_commit_callbacks(execute=True):
        assert job_requeue_stale(kind_name="export") == []  # its heartbeat is recent
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert job_requeue_stale(kind_name="export") == [job.pk]
    assert sent == [("export", job.pk, 0)]
    done = export_step(job.pk)
    assert done is not None and (done.status, done.rows) == ("SUCCEEDED", 6)
    assert export_step(job.pk) is None  # the broker's own redelivery: nothing to do


def test_a_second_live_delivery_leaves_the_file_to_the_first(owner, tickets):
    from django.db import connections

    job = services.export_job_create(membership=owner, dataset=tickets, version=1, fmt="csv")
    # Another worker is writing it: its session holds the job's advisory lock.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [jobs.EXPORT_LOCK_CLASS, job.pk])
        running = export_step(job.pk)
        assert running is not None and running.status == "RUNNING" and not running.file
    finally:
        other.close()  # that worker dies: its lock goes with its connection
    done = export_step(job.pk)
    assert done is not None and (done.status, done.rows) == ("SUCCEEDED", 6)


@pytest.mark.django_db(transaction=True)
def test_streaming_under_asgi(owner, media):
    """Under ASGI the export is an async iterator (Django would list a sync one)."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    add_version(owner.project, "tickets", [classification(i) for i in range(7)])
    dataset = Dataset.objects.get(name="tickets")

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(owner.user)
        response = await client.get(f"/datasets/{dataset.pk}/export/", {"format": "jsonl"})
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response.is_async, body

    is_async, body = async_to_sync(fetch)()
    assert is_async
    assert len(body.splitlines()) == 7


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_streamed_export_needs_no_more_memory_for_ten_times_the_samples(owner_client, owner, fmt):
    """Rows come from a server-side cursor and leave in chunks: the memory an export needs
    does not grow with the version."""
    import tracemalloc

    add_version(owner.project, "small", [classification(i) for i in range(3000)])
    add_version(owner.project, "large", [classification(i) for i in range(30000)])

    def download(name: str) -> tuple[int, int]:
        """(bytes received, peak bytes allocated while streaming them)."""
        dataset = Dataset.objects.get(name=name)
        response = owner_client.get(f"/datasets/{dataset.pk}/export/", {"format": fmt})
        assert response.status_code == 200
        tracemalloc.start()
        try:
            size = sum(len(chunk) for chunk in response.streaming_content)
            return size, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small_size, small_peak = download("small")
    large_size, large_peak = download("large")
    assert large_size > 9 * small_size
    # Measured: ~1.5 MB for 3,000 samples, ~1.8 MB for 30,000 (a 2,000-row cursor fetch).
    assert large_peak < 1.5 * small_peak


def test_the_export_panel_offers_only_files_of_the_version_shown(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    dataset = Dataset.objects.get(name="tickets")
    old = services.export_job_create(membership=owner, dataset=dataset, version=1, fmt="parquet")
    export_step(old.pk)
    add_version(owner.project, "tickets", [classification(i) for i in range(3, 5)])
    dataset.refresh_from_db()
    url = f"/datasets/{dataset.pk}/"
    old_link = f'href="/datasets/exports/{old.pk}/download/"'

    latest = owner_client.get(url).content.decode()
    assert "<strong>Export v2</strong>" in latest
    assert old_link not in latest  # v1's file is not offered as an export of v2
    assert old_link in owner_client.get(url, {"version": 1}).content.decode()

    new = services.export_job_create(membership=owner, dataset=dataset, version=2, fmt="parquet")
    export_step(new.pk)
    latest = owner_client.get(url).content.decode()
    assert f'href="/datasets/exports/{new.pk}/download/"' in latest and old_link not in latest
