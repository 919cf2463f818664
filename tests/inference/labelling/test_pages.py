"""The "Label a file" page and a labelling job's page."""

from typing import Any

import pytest
from django.test import Client

from apps.core.models import Role
from apps.inference.models import LabellingJob
from tests.factories import MembershipFactory
from tests.inference.labelling.helpers import new_job, step

pytestmark = pytest.mark.django_db


def _upload(client: Client, name: str, content: bytes, **fields: Any):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "task": "ner",
        "labels": "person, city",
        "dataset_name": "uploaded",
        "model_id": "fake/fake-gpt",
        "threshold": "0.5",
        **fields,
        "file": SimpleUploadedFile(name, content),
    }
    return client.post("/inference/label/", data)


@pytest.mark.parametrize(
    ("name", "content", "texts"),
    [
        ("notes.txt", b"Ada in Paris\n\nGrace in Berlin\n", ["Ada in Paris", "Grace in Berlin"]),
        (
            "notes.jsonl",
            b'{"text": "Ada in Paris", "id": 1}\n{"text": "Grace"}\n',
            ["Ada in Paris", "Grace"],
        ),
        ("notes.csv", b'id,text\n1,"Ada, in Paris"\n2,Grace\n', ["Ada, in Paris", "Grace"]),
    ],
)
def test_upload_formats_create_a_job(owner_client, owner, provider, name, content, texts):
    response = _upload(owner_client, name, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = LabellingJob.objects.get(project=owner.project)
    assert job.texts == texts and job.labels == ["person", "city"]
    assert response["Location"] == f"/inference/label/{job.pk}/"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b'{"text": "ok"}\n{"text": "x"\n', "Line 2: not valid JSON"),
        ("bad.jsonl", b'{"text": "ok"}\n\n{"body": "x"}\n', "Line 3: expected an object with a"),
        ("bad.csv", b"id,body\n1,x\n", "Line 1: no `text` column"),
        ("long.txt", b"short\n" + b"y" * 20_001 + b"\n", "Line 2: the text has 20,001 characters"),
        ("empty.txt", b"\n\n", "The file holds no texts."),
        ("latin.txt", b"ok\ncaf\xe9\n", "Line 2: the file is not UTF-8 text."),
    ],
)
def test_upload_problems_are_shown_inline_with_line_numbers(
    owner_client, provider, name, content, message
):
    response = _upload(owner_client, name, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LabellingJob.objects.exists()


def test_upload_form_errors_for_labels_and_model(owner_client, provider):
    response = _upload(owner_client, "a<b>.txt", b"Paris\n", labels=" , ", model_id="nope/x")
    html = response.content.decode()
    assert "labels must be a list of 1 to 200 names." in html
    # The file input comes back empty: the page names the file to choose again, escaped.
    assert "Choose <b>a&lt;b&gt;.txt</b> again" in html


def test_job_page_polls_only_while_unfinished(owner_client, owner, provider, fake_extract):
    job = new_job(owner, ["Ada in Paris", "Grace in Berlin"])
    page = owner_client.get(f"/inference/label/{job.pk}/")
    assert page.status_code == 200 and 'hx-trigger="every 2s"' in page.content.decode()
    step(job)
    fragment = owner_client.get(f"/inference/label/{job.pk}/", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and "every 2s" not in html
    assert f"/datasets/{job.dataset_id}/?version=1" in html and "Succeeded" in html
    # The same texts again add nothing, and the page says why.
    again = new_job(owner, ["Ada in Paris", "Grace in Berlin"])
    step(again)
    html = owner_client.get(f"/inference/label/{again.pk}/").content.decode()
    assert '<strong class="num">2</strong><small>already in the dataset</small>' in html
    assert '<strong class="num" id="job-added">0</strong>' in html
    # It made no version that would only copy v1.
    assert "got no new version" in html and "?version=2" not in html
    again.refresh_from_db()
    assert again.dataset_version is None
    assert list(again.dataset.versions.values_list("number", flat=True)) == [1]


def test_viewers_cannot_label_and_other_projects_jobs_are_404(owner, provider, fake_extract):
    job = new_job(owner, ["Paris"])
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert _upload(client, "a.txt", b"Paris\n").status_code == 403
    assert client.post(f"/inference/label/{job.pk}/cancel/").status_code == 403
    assert client.get(f"/inference/label/{job.pk}/").status_code == 200
    stranger = Client()
    stranger.force_login(MembershipFactory().user)
    assert stranger.get(f"/inference/label/{job.pk}/").status_code == 404
