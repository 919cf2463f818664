"""Bad input through pydataframer and plain HTTP: clear JSON errors with the codes the
client maps to its exceptions (400, 401, 404, 409, 422), never a 500."""

import io
import zipfile

import dataframer
import httpx
import pytest

from apps.core.jobs import job_step
from apps.dataframer.models import GeneratedSpec, SeedDataset
from tests.dataframer.conftest import tickets_csv, zip_of
from tests.factories import MembershipFactory, api_key_for

CSV = ("tickets.csv", tickets_csv(), "text/csv")


def _seed(client, name: str = "tickets"):
    return client.dataframer.seed_datasets.create_with_files(
        name=name, dataset_type="SINGLE_FILE", files=[CSV]
    )


def _written_spec(client, dataset_id: str, name: str = "spec"):
    """A SUCCEEDED spec: its job's step run here, in-process, instead of on a worker."""
    spec = client.dataframer.specs.create(name=name, dataset_id=dataset_id)
    job_step(kind_name="dataframer_spec", pk=GeneratedSpec.objects.get(uid=spec.id).pk, step=0)
    return client.dataframer.specs.retrieve(spec.id)


def _error(call) -> dataframer.APIStatusError:
    with pytest.raises(dataframer.APIStatusError) as raised:
        call()
    assert raised.value.status_code < 500
    assert isinstance(raised.value.body, dict), raised.value.body
    return raised.value


def test_seed_dataset_limits_name_the_field(df):
    seeds = df.client.dataframer.seed_datasets
    one_row = ("one.csv", b"text,label\nonly one,bug\n", "text/csv")
    cases = [
        (dict(name="a", dataset_type="SINGLE_FILE", files=[one_row]), "files", "at least 2 rows"),
        (dict(name="a", dataset_type="SINGLE_FILE", files=[CSV, CSV]), "files", "exactly 1"),
        (
            dict(name="a", dataset_type="SINGLE_FILE", files=[("x.txt", b"a\nb", "text/plain")]),
            "files",
            "CSV, JSON or JSONL",
        ),
        (
            dict(name="a", dataset_type="MULTI_FILE", files=[("a.txt", b"hi", "text/plain")]),
            "files",
            "2 to 1,000",
        ),
        (
            dict(
                name="a",
                dataset_type="MULTI_FILE",
                files=[
                    ("a.txt", b"x" * (1024 * 1024 + 1), "text/plain"),
                    ("b.txt", b"b", "text/plain"),
                ],
            ),
            "files",
            "1 MB",
        ),
        (
            dict(
                name="a",
                dataset_type="MULTI_FOLDER",
                files=[("a.txt", b"a", "text/plain")] * 2,
                folder_names=["one"],
            ),
            "folder_names",
            "One folder name per file",
        ),
        (
            dict(
                name="a",
                dataset_type="MULTI_FOLDER",
                files=[("a.txt", b"a", "text/plain"), ("b.txt", b"b", "text/plain")],
                folder_names=["same", "same"],
            ),
            "folder_names",
            "At least 2",
        ),
        (dict(name="a", dataset_type="NOPE", files=[CSV]), "dataset_type", "not one of"),
        (dict(name="", dataset_type="SINGLE_FILE", files=[CSV]), "name", "required"),
    ]
    for params, field, words in cases:
        error = _error(lambda params=params: seeds.create_with_files(**params))
        assert error.status_code == 400, params
        assert words in " ".join(error.body[field]), (params, error.body)
    assert not SeedDataset.objects.exists()

    _seed(df.client)
    duplicate = _error(lambda: _seed(df.client))
    assert duplicate.status_code == 409


def test_zip_members_are_checked_before_extraction(df):
    seeds = df.client.dataframer.seed_datasets

    def upload(members: dict[str, bytes]):
        data = ("seeds.zip", zip_of(members), "application/zip")
        return _error(lambda: seeds.create_from_zip(name="z", zip_file=data))

    assert "'..'" in upload({"../evil.txt": b"x", "b.txt": b"y"}).body["zip_file"][0]
    assert "absolute" in upload({"/etc/evil.txt": b"x", "b.txt": b"y"}).body["zip_file"][0]
    many = {f"f{n}.txt": b"x" for n in range(1200)}
    assert "At most 1,000" in upload(many).body["zip_file"][0]
    nested = {"a/b/c.txt": b"x", "a/b/d.txt": b"y"}
    assert "nested" in upload(nested).body["zip_file"][0]

    # A bomb: 60 MB of zeros compress to a few kB; refused from the directory alone.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rows.csv", b"0" * (60 * 1024 * 1024))
    bomb = ("bomb.zip", buffer.getvalue(), "application/zip")
    assert len(bomb[1]) < 200_000
    error = _error(lambda: seeds.create_from_zip(name="z", zip_file=bomb))
    assert error.status_code == 400 and "50 MB" in error.body["zip_file"][0]
    not_zip = ("x.zip", b"not a zip", "application/zip")
    assert (
        "ZIP"
        in _error(lambda: seeds.create_from_zip(name="z", zip_file=not_zip)).body["zip_file"][0]
    )
    assert not SeedDataset.objects.exists()

    folders = {"doc1/a.txt": b"first", "doc1/b.txt": b"second", "doc2/a.txt": b"third"}
    made = seeds.create_from_zip(
        name="folders", zip_file=("f.zip", zip_of(folders), "application/zip")
    )
    assert made.dataset_type == "MULTI_FOLDER" and made.folder_count == 2


def test_specs_refuse_what_they_cannot_use(df):
    specs = df.client.dataframer.specs
    dataset = _seed(df.client)
    error = _error(lambda: specs.create(name="seedless"))
    assert error.status_code == 400 and "generation_objectives" in error.body
    error = _error(
        lambda: specs.create(
            name="s", dataset_id=dataset.id, spec_generation_model_name="openai/no-such-model"
        )
    )
    assert error.status_code == 400
    message = error.body["spec_generation_model_name"][0]
    assert "Unknown model 'openai/no-such-model'" in message and "fake/fake-gpt" in message
    assert _error(lambda: specs.create(name="s", dataset_id="nope")).status_code == 404
    assert _error(lambda: specs.retrieve("3fa85f64-5717-4562-b3fc-2c963f66afa6")).status_code == 404

    spec = _written_spec(df.client, dataset.id)
    assert spec.status == "SUCCEEDED"
    assert _error(lambda: specs.create(name="spec", dataset_id=dataset.id)).status_code == 409
    for bad in (
        "",
        "spec: [1, 2",
        "nothing: here",
        "spec: &a {description: *a}",
        "spec:\n  colour: red\n",
    ):
        error = _error(lambda bad=bad: specs.update(spec.id, content_yaml=bad))
        assert error.status_code == 400 and "content_yaml" in error.body, bad
    unusable = _error(lambda: specs.update(spec.id, content_yaml="spec:\n  description: ''\n"))
    assert unusable.status_code == 422 and "Description" in unusable.body["content_yaml"][0]
    delete_dataset = df.client.dataframer.seed_datasets.delete
    assert _error(lambda: delete_dataset(dataset.id)).status_code == 409


def test_a_model_that_writes_no_spec_fails_it_with_the_reason(df, fake_openai):
    dataset = _seed(df.client)
    fake_openai.responder = lambda data: "I would rather not."
    failed = _written_spec(df.client, dataset.id, name="refused")
    assert failed.status == "FAILED" and failed.content_yaml is None
    assert "JSON" in failed.error or "json" in failed.error.lower(), failed.error
    runs = df.client.dataframer.runs
    error = _error(lambda: runs.create(spec_id=failed.id, number_of_samples=5))
    assert error.status_code == 400 and "FAILED" in error.body["spec_id"][0]
    df.client.dataframer.specs.delete(failed.id)
    assert df.client.dataframer.specs.list() == []


def test_runs_refuse_bad_parameters(df):
    runs = df.client.dataframer.runs
    spec = _written_spec(df.client, _seed(df.client).id)
    cases = [
        (dict(number_of_samples=0), "number_of_samples"),
        (dict(number_of_samples=20_001), "number_of_samples"),
        (dict(number_of_samples=5, max_revision_cycles=6), "max_revision_cycles"),
        (dict(number_of_samples=5, revision_types=["spelling"]), "revision_types"),
        (dict(number_of_samples=5, filtering_types=["vibes"]), "filtering_types"),
        (dict(number_of_samples=5, seed_shuffling_level="chaos"), "seed_shuffling_level"),
        (dict(number_of_samples=5, max_examples_in_prompt=500), "max_examples_in_prompt"),
        (dict(number_of_samples=5, tools=["browser"]), "tools"),
        (dict(number_of_samples=5, spec_version=9), "spec_version"),
        (dict(number_of_samples=5, generation_model="anthropic/claude-opus-9"), "generation_model"),
        (dict(number_of_samples=5, outline_model="nobody/nothing"), "outline_model"),
    ]
    for params, field in cases:
        error = _error(lambda params=params: runs.create(spec_id=spec.id, **params))
        assert error.status_code == 400 and field in error.body, (params, error.body)
    unknown = _error(
        lambda: runs.create(
            spec_id=spec.id, number_of_samples=5, generation_model="anthropic/claude-opus-9"
        )
    )
    assert "fake/fake-gpt" in unknown.body["generation_model"][0]  # names that exist

    # Wrong types and missing fields, as a script without the SDK sends them.
    headers = {"Authorization": f"Bearer {df.client.api_key}"}
    url = f"{df.url}/api/dataframer/runs/"
    for body, field in (
        ({"number_of_samples": 5}, "spec_id"),
        ({"spec_id": spec.id}, "number_of_samples"),
        ({"spec_id": spec.id, "number_of_samples": "many"}, "number_of_samples"),
        (
            {"spec_id": spec.id, "number_of_samples": 5, "revision_types": "consistency"},
            "revision_types",
        ),
    ):
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 400 and field in response.json(), response.text
    as_json = httpx.post(
        f"{df.url}/api/dataframer/seed-datasets/create/", json={"name": "x"}, headers=headers
    )
    assert as_json.status_code == 400 and as_json.headers["content-type"] == "application/json"

    run = runs.create(
        spec_id=spec.id,
        number_of_samples=5,
        generation_model="claude-haiku-4-5",
        enable_revisions=True,  # legacy: every revision type and structural filtering
    )
    assert run.status == "PENDING"
    assert run.runtime_params.revision_types == [
        "coherence_flow",
        "consistency",
        "distinguishability",
        "conformance",
    ]
    assert run.runtime_params.filtering_types == ["structural"]
    budget = _error(
        lambda: runs.create(
            spec_id=spec.id, number_of_samples=5, generation_model="fake/fake-gpt-thinking"
        )
    )
    assert "generation_thinking_budget" in budget.body  # the provider cannot think
    assert _error(lambda: runs.delete(run.id)).status_code == 409  # still going
    runs.cancel(run.id)
    assert runs.retrieve(run.id).status == "CANCELED"
    assert _error(lambda: runs.cancel(run.id)).status_code == 409
    assert _error(lambda: runs.files.download_all(run.id)).status_code == 409
    assert _error(lambda: runs.files.download("0", run_id=run.id)).status_code == 404
    assert _error(lambda: runs.retrieve("not-a-uuid")).status_code == 404


def test_keys_and_projects(df, live_server):
    dataset = _seed(df.client)
    stranger = dataframer.Dataframer(
        api_key=api_key_for(MembershipFactory()), base_url=live_server.url, max_retries=0
    )
    assert stranger.dataframer.seed_datasets.list() == []
    error = _error(lambda: stranger.dataframer.seed_datasets.retrieve(dataset.id))
    assert error.status_code == 404
    assert _error(lambda: stranger.dataframer.seed_datasets.delete(dataset.id)).status_code == 404
    nobody = dataframer.Dataframer(api_key="sk-wrong", base_url=live_server.url, max_retries=0)
    assert _error(lambda: nobody.dataframer.specs.list()).status_code == 401
    token = httpx.post(f"{live_server.url}/api/data-plane/token/")
    assert token.status_code == 404 and token.json()["code"] == "not_hybrid"
    forged = f"{live_server.url}/api/dataframer/downloads/forged/"
    assert httpx.get(forged).status_code == 403
