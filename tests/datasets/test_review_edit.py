import json

import pytest
from django.test import Client

from apps.core.models import Role
from apps.datasets import services
from apps.datasets.models import DatasetVersion, Sample
from tests.datasets.helpers import add_version, classification, ner
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ner_sample(owner) -> Sample:
    add_version(owner.project, "people", [ner(i) for i in range(3)], task_type="ner")
    return Sample.objects.order_by("id")[0]


def test_reject_and_accept_with_htmx_return_the_row(owner, owner_client, ner_sample):
    url = f"/datasets/samples/{ner_sample.pk}/review/"
    response = owner_client.post(url, {"state": "rejected"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<article class="sample state-rejected" id="sample-{ner_sample.pk}"')
    assert '<span class="review-badge rejected">Rejected</span>' in html
    assert "<html" not in html
    ner_sample.refresh_from_db()
    assert ner_sample.review_state == "rejected"

    response = owner_client.post(url, {"state": "accepted"}, **HTMX)
    assert response.status_code == 200
    assert "state-accepted" in response.content.decode()
    ner_sample.refresh_from_db()
    assert ner_sample.review_state == "accepted"


def test_review_rejects_unknown_states(owner_client, ner_sample):
    url = f"/datasets/samples/{ner_sample.pk}/review/"
    assert owner_client.post(url, {"state": "edited"}, **HTMX).status_code == 400
    assert owner_client.get(url).status_code == 405
    ner_sample.refresh_from_db()
    assert ner_sample.review_state == "unreviewed"


def test_editor_shows_the_payload_as_json(owner_client, ner_sample):
    html = owner_client.get(f"/datasets/samples/{ner_sample.pk}/edit/", **HTMX).content.decode()
    assert '<textarea name="payload"' in html
    assert "&quot;Alice Smith&quot;" in html  # escaped inside the textarea


def test_custom_samples_show_their_named_fields_in_the_file_order(owner, owner_client, owner_key):
    row = {"question": "Is <b>this</b> bold?", "answer": "No", "difficulty": "easy"}
    result = services.dataset_import(
        membership=owner,
        name="quiz",
        task_type="custom",
        file_name="quiz.jsonl",
        content=json.dumps(row).encode(),
    )
    sample = Sample.objects.get(dataset=result.dataset)

    page = owner_client.get(f"/datasets/{result.dataset.pk}/").content.decode()
    editor = owner_client.get(f"/datasets/samples/{sample.pk}/edit/", **HTMX).content.decode()

    assert (
        '<dl class="sample-fields"><dt>question</dt><dd>Is &lt;b&gt;this&lt;/b&gt; bold?</dd>'
        "<dt>answer</dt><dd>No</dd><dt>difficulty</dt><dd>easy</dd></dl>"
    ) in page
    # jsonb holds them as answer, question, difficulty; the editor shows the file's order.
    assert editor.index("&quot;question&quot;") < editor.index("&quot;answer&quot;")
    assert editor.index("&quot;answer&quot;") < editor.index("&quot;difficulty&quot;")
    api = (
        Client()
        .get(f"/api/v1/datasets/{result.dataset.pk}/samples/", HTTP_X_API_KEY=owner_key)
        .json()
    )
    assert list(api["results"][0]["payload"]) == ["question", "answer", "difficulty"]


def test_bad_entity_span_is_an_inline_error_and_changes_nothing(owner_client, ner_sample):
    before = (ner_sample.payload, ner_sample.text, ner_sample.review_state)
    payload = {
        "text": "Alice Smith from Acme Corp visited Paris.",
        "entities": [{"text": "Bob Jones", "label": "PERSON"}],
    }
    submitted = json.dumps(payload)
    response = owner_client.post(
        f"/datasets/samples/{ner_sample.pk}/edit/", {"payload": submitted}, **HTMX
    )
    assert response.status_code == 200  # htmx swaps the editor back in, with the error
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Entity not found in the text: &#x27;Bob Jones&#x27; is not in the text" in html
    assert "Bob Jones" in html  # the reader's text is kept in the textarea
    ner_sample.refresh_from_db()
    assert (ner_sample.payload, ner_sample.text, ner_sample.review_state) == before


def test_invalid_json_and_schema_errors_are_named(owner_client, ner_sample):
    url = f"/datasets/samples/{ner_sample.pk}/edit/"
    html = owner_client.post(url, {"payload": "{not json"}, **HTMX).content.decode()
    assert "Not valid JSON: Expecting property name enclosed in double quotes" in html
    html = owner_client.post(url, {"payload": '{"text": "x"}'}, **HTMX).content.decode()
    assert "Does not follow the schema: sample: &#x27;entities&#x27; is a required property" in html


def test_a_valid_edit_is_saved_as_edited_with_new_offsets(owner_client, ner_sample):
    payload = {
        "text": "Bob Jones works at Initech in Oslo.",
        "entities": [{"text": "Oslo", "label": "LOC"}, {"text": "Bob Jones", "label": "PERSON"}],
    }
    response = owner_client.post(
        f"/datasets/samples/{ner_sample.pk}/edit/", {"payload": json.dumps(payload)}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "state-edited" in html
    assert '<mark data-label="PERSON" style="--label-hue: ' in html
    ner_sample.refresh_from_db()
    assert ner_sample.review_state == "edited"
    assert ner_sample.text == payload["text"]
    assert ner_sample.labels == ["LOC", "PERSON"]
    assert ner_sample.payload["entities"][0] == {
        "text": "Bob Jones",
        "label": "PERSON",
        "start": 0,
        "end": 9,
    }
    assert ner_sample.lineage["before_edit"]["text"].startswith("Alice Smith")
    # The closed version's stored label counts follow the edit.
    version = DatasetVersion.objects.get(dataset=ner_sample.dataset, number=1)
    assert version.added_labels == {"PERSON": 3, "ORG": 2, "LOC": 3}


def test_edit_labels_must_be_known_to_the_dataset(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    sample = Sample.objects.order_by("id").first()
    url = f"/datasets/samples/{sample.pk}/edit/"
    bad = json.dumps({"text": "A new text", "label": "biling"})
    html = owner_client.post(url, {"payload": bad}, **HTMX).content.decode()
    assert "Label not in the spec: label &#x27;biling&#x27; (the labels: " in html
    assert "account" in html.split("(the labels: ")[1].split(")")[0]
    good = json.dumps({"text": "A new text", "label": "account"})
    assert "state-edited" in owner_client.post(url, {"payload": good}, **HTMX).content.decode()


def test_an_edit_names_fields_it_would_drop_and_an_unchanged_one_is_no_edit(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(2)])
    sample = Sample.objects.order_by("id").first()
    url = f"/datasets/samples/{sample.pk}/edit/"
    extra = json.dumps({**sample.payload, "foo": 1})
    html = owner_client.post(url, {"payload": extra}, **HTMX).content.decode()
    assert "Unknown field &#x27;foo&#x27;: a sample has label, text." in html
    same = json.dumps(sample.payload)
    html = owner_client.post(url, {"payload": same}, **HTMX).content.decode()
    assert "state-edited" not in html
    sample.refresh_from_db()
    assert sample.review_state == "unreviewed" and "before_edit" not in sample.lineage


def test_an_edit_may_not_duplicate_another_sample(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(2)])
    first, second = Sample.objects.order_by("id")
    payload = json.dumps({"text": second.text, "label": "billing"})
    html = owner_client.post(
        f"/datasets/samples/{first.pk}/edit/", {"payload": payload}, **HTMX
    ).content.decode()
    assert "Another sample of this dataset already has this text." in html


def test_untrusted_text_is_escaped_everywhere(owner, owner_client):
    attack = "<img src=x onerror=alert(1)>"
    add_version(owner.project, "xss", [{"text": f"Hi {attack} there", "label": "<b>x</b>"}])
    entity_text = f"{attack} met <script>alert(2)</script> in Paris"
    add_version(
        owner.project,
        "xss-ner",
        [
            {
                "text": entity_text,
                "entities": [
                    {"text": attack, "label": 'PER"><svg onload=alert(3)>'},
                    {"text": "Paris", "label": "LOC"},
                ],
            }
        ],
        task_type="ner",
    )
    for dataset_id in DatasetVersion.objects.values_list("dataset_id", flat=True):
        html = owner_client.get(f"/datasets/{dataset_id}/").content.decode()
        assert "<img src=x" not in html
        assert "<script>alert(2)" not in html
        assert "<svg onload" not in html and "<b>x</b>" not in html
        assert "hx-disable" in html
    ner_html = owner_client.get(
        f"/datasets/{DatasetVersion.objects.get(dataset__name='xss-ner').dataset_id}/"
    ).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;</mark>" in ner_html
    assert 'data-label="PER&quot;&gt;&lt;svg onload=alert(3)&gt;"' in ner_html
    assert '<mark data-label="LOC" style="--label-hue: ' in ner_html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in ner_html


def test_viewers_see_no_review_buttons_and_get_403(owner, ner_sample):
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    page = client.get(f"/datasets/{ner_sample.dataset_id}/").content.decode()
    assert "Alice Smith" in page
    assert "/review/" not in page and "/edit/" not in page
    assert 'action="/datasets/import/"' not in client.get("/datasets/").content.decode()

    review = client.post(f"/datasets/samples/{ner_sample.pk}/review/", {"state": "rejected"})
    assert review.status_code == 403
    edit = client.post(f"/datasets/samples/{ner_sample.pk}/edit/", {"payload": "{}"})
    assert edit.status_code == 403
    assert client.post("/datasets/import/", {"name": "x"}).status_code == 403
    ner_sample.refresh_from_db()
    assert ner_sample.review_state == "unreviewed"


def test_other_projects_samples_are_404(owner_client):
    other = MembershipFactory()
    add_version(other.project, "secret", [classification(i) for i in range(2)])
    sample = Sample.objects.get(text__startswith="Ticket 0")
    assert owner_client.get(f"/datasets/{sample.dataset_id}/").status_code == 404
    assert owner_client.get(f"/datasets/samples/{sample.pk}/").status_code == 404
    assert owner_client.get(f"/datasets/samples/{sample.pk}/edit/").status_code == 404
    response = owner_client.post(f"/datasets/samples/{sample.pk}/review/", {"state": "rejected"})
    assert response.status_code == 404
    sample.refresh_from_db()
    assert sample.review_state == "unreviewed"
    assert "secret" not in owner_client.get("/datasets/").content.decode()


def test_a_rejected_sample_edited_is_no_longer_counted_as_rejected(owner):
    from apps.datasets import selectors

    version = add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    sample = Sample.objects.order_by("id").first()
    services.sample_review(membership=owner, sample=sample, state="rejected")
    version.refresh_from_db()
    assert (version.rejected_count, version.rejected_labels) == (1, {sample.labels[0]: 1})
    new_label = next(label for label in ("billing", "shipping") if label != sample.labels[0])
    services.sample_edit(
        membership=owner, sample=sample, payload={"text": sample.text, "label": new_label}
    )
    version.refresh_from_db()
    assert (version.rejected_count, version.rejected_labels) == (0, {})
    assert selectors.label_distribution_kept(version.dataset)[1] == 0
