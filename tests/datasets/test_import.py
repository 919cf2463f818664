import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.core.models import Role
from apps.datasets import importing, services
from apps.datasets.models import Dataset, DatasetVersion, Sample
from tests.datasets.helpers import add_version, classification, ner
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def test_jsonl_import_creates_a_dataset_and_counts_duplicates(owner):
    rows = [classification(i) for i in range(5)] + [classification(0), classification(1)]
    result = services.dataset_import(
        membership=owner,
        name="tickets",
        task_type="classification",
        file_name="tickets.jsonl",
        content=jsonl(rows),
    )
    assert (result.rows, result.inserted, result.duplicates) == (7, 5, 2)
    assert result.version.number == 1
    assert result.version.source == "import"
    assert result.version.added_count == 5  # closed at once
    sample = Sample.objects.get(text__startswith="Ticket 3")
    assert sample.labels == ["billing"]
    assert sample.lineage == {"source": "import", "file": "tickets.jsonl", "line": 4}


def test_csv_import_adds_a_version_to_an_existing_dataset(owner):
    add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    content = (
        b"text,label\n"
        b'"Ticket 0: I was charged twice for my invoice and want a refund.",billing\n'
        b'"A multi-line\nticket about my parcel",shipping\n'
        b"New ticket about a login problem,account\n"
    )
    result = services.dataset_import(
        membership=owner, name="tickets", task_type="", file_name="more.csv", content=content
    )
    assert result.version.number == 2
    assert (result.inserted, result.duplicates) == (2, 1)
    assert Sample.objects.filter(dataset=result.dataset).count() == 5
    multi = Sample.objects.get(text__startswith="A multi-line")
    assert multi.lineage["line"] == 3

    with pytest.raises(ValidationError) as again:
        services.dataset_import(
            membership=owner, name="tickets", task_type="", file_name="more.csv", content=content
        )
    assert again.value.message_dict["file"] == [
        "Nothing new: all 3 rows are already in tickets; no version created."
    ]
    assert result.dataset.versions.count() == 2


def test_ner_csv_with_entities_as_json(owner):
    content = (
        b'text,entities\n"Alice lives in Paris.","[{""text"": ""Paris"", ""label"": ""LOC""}]"\n'
    )
    result = services.dataset_import(
        membership=owner, name="places", task_type="ner", file_name="p.csv", content=content
    )
    sample = Sample.objects.get(dataset=result.dataset)
    assert sample.payload["entities"] == [{"text": "Paris", "label": "LOC", "start": 15, "end": 20}]


def test_a_bad_row_names_its_line_and_nothing_is_kept(owner):
    rows = [json.dumps(classification(0)), json.dumps(classification(1)), "{oops", ""]
    rows += [json.dumps({"text": "no label"}), json.dumps({"text": "", "label": "x"})]
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="tickets",
            task_type="classification",
            file_name="bad.jsonl",
            content="\n".join(rows).encode(),
        )
    messages = error.value.message_dict["file"]
    assert messages[0].startswith("line 3: not valid JSON")
    assert (
        messages[1] == "line 5: Does not follow the schema: sample: 'label' is a required property"
    )
    assert messages[2] == "line 6: Does not follow the schema: text: '' should be non-empty"
    assert not Dataset.objects.exists()
    assert not Sample.objects.exists()


def test_bad_csv_row_line_number(owner):
    content = b"text,label\nfine,ok\n,missing text\nalso fine,ok\n"
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="t",
            task_type="classification",
            file_name="t.csv",
            content=content,
        )
    assert error.value.message_dict["file"] == [
        "line 3: Does not follow the schema: sample: 'text' is a required property"
    ]


def test_import_limits_and_task_type_checks(owner, monkeypatch):
    add_version(owner.project, "people", [ner(0)], task_type="ner")
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="people",
            task_type="classification",
            file_name="x.jsonl",
            content=jsonl([classification(0)]),
        )
    assert error.value.message_dict == {"task_type": ["Dataset 'people' holds ner samples."]}

    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner, name="new", task_type="", file_name="x.jsonl", content=b"{}"
        )
    assert "task_type" in error.value.message_dict

    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="latin",
            task_type="classification",
            file_name="x.csv",
            content="text,label\ncafé,ok\n".encode("latin-1"),
        )
    assert error.value.message_dict["file"][0].startswith("line 2: not UTF-8 text")

    monkeypatch.setattr(importing, "MAX_IMPORT_ROWS", 3)
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="big",
            task_type="classification",
            file_name="x.jsonl",
            content=jsonl([classification(i) for i in range(5)]),
        )
    assert error.value.message_dict["file"] == ["line 4: the file has more than 3 rows"]

    monkeypatch.setattr(importing, "MAX_IMPORT_BYTES", 10)
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner,
            name="big",
            task_type="classification",
            file_name="x.jsonl",
            content=jsonl([classification(0)]),
        )
    assert error.value.message_dict["file"] == ["The file is larger than 50 MB."]


def test_import_page_shows_errors_and_redirects_on_success(owner_client):
    bad = SimpleUploadedFile("t.jsonl", b'{"text": "ok", "label": "a"}\n{"text": 1}\n')
    response = owner_client.post(
        "/datasets/import/", {"file": bad, "name": "tickets", "task_type": "classification"}
    )
    html = response.content.decode()
    assert "Nothing was imported." in html
    assert "Choose <b>t.jsonl</b> again" in html
    # The error page's address: reloading it goes back to the datasets page.
    assert owner_client.get("/datasets/import/")["Location"] == "/datasets/"
    assert (
        "line 2: Does not follow the schema: sample: &#x27;label&#x27; is a required property"
        in html
    )

    good = SimpleUploadedFile("t.jsonl", jsonl([classification(i) for i in range(4)]))
    response = owner_client.post(
        "/datasets/import/", {"file": good, "name": "tickets", "task_type": "classification"}
    )
    dataset = Dataset.objects.get(name="tickets")
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/{dataset.pk}/"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Imported 4 samples into tickets v1 (0 duplicates skipped)." in page


def test_import_api(owner_key):
    upload = SimpleUploadedFile("t.jsonl", jsonl([classification(i) for i in range(3)]))
    response = Client().post(
        "/api/v1/datasets/import/",
        {"file": upload, "name": "tickets", "task_type": "classification"},
        HTTP_X_API_KEY=owner_key,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dataset"] == "tickets" and body["version"] == 1
    assert (body["rows"], body["inserted"], body["duplicates"]) == (3, 3, 0)

    bad = SimpleUploadedFile("t.jsonl", b'{"text": "x", "label": "a"}\nnot json\n')
    response = Client().post(
        "/api/v1/datasets/import/",
        {"file": bad, "name": "tickets"},
        HTTP_X_API_KEY=owner_key,
    )
    assert response.status_code == 400
    assert response.json()["file"][0].startswith("line 2: not valid JSON")
    assert DatasetVersion.objects.count() == 1


def test_task_types_are_named_as_the_pages_name_them(owner, owner_client):
    add_version(owner.project, "people", [ner(1)], task_type="ner")
    listing = owner_client.get("/datasets/").content.decode()
    assert '<span class="task-type">Named-entity recognition</span>' in listing
    upload = SimpleUploadedFile("t.jsonl", jsonl([classification(1)]))
    page = owner_client.post("/datasets/import/", {"file": upload, "name": "new"}).content.decode()
    assert "ner (Named-entity recognition), classification, decoder (Instruction → response)" in (
        page.replace("&gt;", ">")
    )


def test_csv_problems_read_as_they_do_for_seed_uploads(owner):
    too_wide = b'text,label\n"Ticket one",billing\n"Ticket two",billing,extra\n'
    with pytest.raises(ValidationError) as error:
        services.dataset_import(
            membership=owner, name="t", task_type="classification", file_name="t.csv",
            content=too_wide,
        )  # fmt: skip
    assert error.value.message_dict["file"] == ["line 3: 3 values, but the header has 2 columns"]


def test_a_dataset_page_imports_a_file_as_its_next_version(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(2)])
    dataset = Dataset.objects.get(name="tickets")
    page = owner_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "Import a file as v2" in page
    assert '<input type="hidden" name="name" value="tickets">' in page
    upload = SimpleUploadedFile("more.jsonl", jsonl([classification(i) for i in range(2, 5)]))
    response = owner_client.post("/datasets/import/", {"file": upload, "name": "tickets"})
    assert response["Location"] == f"/datasets/{dataset.pk}/"
    assert dataset.versions.count() == 2
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert "Import a file" not in client.get(f"/datasets/{dataset.pk}/").content.decode()


def test_a_sample_row_says_which_file_and_line_it_came_from(owner, owner_client):
    upload = SimpleUploadedFile("t<i>.jsonl", jsonl([classification(i) for i in range(2)]))
    form = {"file": upload, "name": "tickets", "task_type": "classification"}
    assert owner_client.post("/datasets/import/", form).status_code == 302
    dataset = Dataset.objects.get(name="tickets")
    page = owner_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "from t&lt;i&gt;.jsonl line 2" in page and "t<i>" not in page


def test_an_unsupported_file_type_is_named_with_the_types_that_import(owner_client, owner_key):
    message = "tickets.txt: unsupported file type .txt; use .jsonl, .ndjson, .json, .csv or .tsv."
    form = {"name": "tickets", "task_type": "classification"}
    upload = SimpleUploadedFile("tickets.txt", b"Please refund my order\n")
    page = owner_client.post("/datasets/import/", {**form, "file": upload})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<li>{message}</li>" in html
    # The form lists the same types, and does not ask for the refused file again.
    assert "File (.jsonl, .ndjson, .json, .csv or .tsv)" in html
    assert "Choose <b>tickets.txt</b> again" not in html

    upload = SimpleUploadedFile("tickets.txt", b"Please refund my order\n")
    response = Client().post(
        "/api/v1/datasets/import/", {**form, "file": upload}, HTTP_X_API_KEY=owner_key
    )
    assert (response.status_code, response.json()) == (400, {"file": [message]})
    assert not Dataset.objects.exists()
    # Without a task type for the new dataset, both problems are named at once.
    upload = SimpleUploadedFile("tickets.txt", b"Please refund my order\n")
    response = Client().post(
        "/api/v1/datasets/import/", {"name": "tickets", "file": upload}, HTTP_X_API_KEY=owner_key
    )
    assert response.status_code == 400 and set(response.json()) == {"task_type", "file"}
    assert response.json()["file"] == [message]
