import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.core.models import Role
from apps.specs import services
from apps.specs.forms import initial_from_version
from apps.specs.models import Spec
from tests.factories import MembershipFactory
from tests.specs.helpers import latest, make_spec

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Support intents",
    "task_type": "classification",
    "description": "Support tickets of an invoicing app.",
    "labels": "billing\n\ntechnical_issue\n",
    "requirements": "First person\nNo personal data",
    "seeds": '{"text": "Charged twice", "label": "billing"}\n'
    '{"text": "Export crashes", "label": "technical_issue"}',
}


def test_empty_state_offers_an_example(owner_client):
    page = owner_client.get(reverse("spec_list")).content.decode()
    assert "No specs yet" in page
    assert "Start from an example" in page
    example = owner_client.get(reverse("spec_create") + "?example=1").content.decode()
    assert "Support ticket intents" in example
    assert "account_access" in example


def test_create_via_form_lists_and_shows_it(owner_client, owner):
    response = owner_client.post(reverse("spec_create"), FORM)
    spec = Spec.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("spec_detail", args=[spec.pk])
    version = latest(spec)
    assert version.labels == ["billing", "technical_issue"]
    assert version.requirements == ["First person", "No personal data"]
    assert len(version.seeds) == 2

    listing = owner_client.get(reverse("spec_list")).content.decode()
    assert "Support intents" in listing and "v1" in listing and "checking" in listing
    detail = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in detail  # pending: the status polls
    assert "Charged twice" in detail
    assert "&quot;enum&quot;" in detail  # the derived schema, escaped JSON


def test_status_fragment_stops_polling_once_decided(owner_client, owner):
    spec = make_spec(owner)
    url = reverse("spec_version_status", args=[spec.pk, 1])
    assert 'hx-trigger="every 2s"' in owner_client.get(url).content.decode()
    services.spec_version_check(version=latest(spec))
    fragment = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment and "succeeded" in fragment
    assert "<html" not in fragment
    detail = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert "hx-trigger" not in detail


def test_failed_version_shows_reasons(owner_client, owner):
    spec = make_spec(owner, seeds=[{"text": "Refund", "label": "money"}])
    services.spec_version_check(version=latest(spec))
    detail = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert "failed" in detail
    assert "Seed 1: Label not in the spec: label &#x27;money&#x27;" in detail
    assert "(not in spec)" in detail  # the label-count bar of the stray label


def test_form_errors_name_field_and_line(owner_client):
    seeds = '{"text": "a", "label": "billing"}\n\n{"text": "b", label}\n'
    response = owner_client.post(reverse("spec_create"), {**FORM, "seeds": seeds})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The spec was not saved" in page
    assert "Line 3: not valid JSON" in page
    assert 'id="id_seeds_error"' in page and 'aria-invalid="true"' in page
    assert not Spec.objects.exists()


def test_csv_upload_errors_name_the_line(owner_client):
    upload = SimpleUploadedFile("seeds.csv", b"text,label\nok,billing\nbad,row,here\n")
    response = owner_client.post(reverse("spec_create"), {**FORM, "seeds_file": upload})
    assert "Line 3: 3 values, but the header has 2 columns." in response.content.decode()
    assert not Spec.objects.exists()


def test_csv_upload_replaces_the_text(owner_client):
    upload = SimpleUploadedFile("seeds.csv", b"text,label\nfrom the file,billing\n")
    owner_client.post(reverse("spec_create"), {**FORM, "seeds_file": upload})
    assert latest(Spec.objects.get()).seeds == [{"text": "from the file", "label": "billing"}]


def test_the_page_refuses_a_spec_its_check_would_fail_and_keeps_the_input(owner_client):
    bad = {**FORM, "seeds": FORM["seeds"] + '\n{"text": "Where is my parcel?", "label": "town"}'}
    page = owner_client.post(reverse("spec_create"), bad).content.decode()
    assert "The spec was not saved:" in page
    assert "Seed 3: Label not in the spec: label &#x27;town&#x27;" in page
    assert "Where is my parcel?" in page  # what was typed is still in the form
    assert not Spec.objects.filter(name="Support intents").exists()


def test_duplicate_name_error_is_on_the_name_field(owner_client, owner):
    make_spec(owner, name="Support intents")
    page = owner_client.post(reverse("spec_create"), FORM).content.decode()
    assert 'id="id_name_error"' in page and "already exists" in page


def test_seeds_of_an_upload_are_kept_when_the_page_comes_back_with_an_error(owner_client, owner):
    make_spec(owner, name="Support intents")
    upload = SimpleUploadedFile("seeds.csv", b"text,label\nfrom the file,billing\n")
    page = owner_client.post(reverse("spec_create"), {**FORM, "seeds_file": upload})
    html = page.content.decode()
    assert "already exists" in html
    assert "The seeds of <b>seeds.csv</b> are in the box above now" in html
    assert (
        "{&quot;text&quot;: &quot;from the file&quot;, &quot;label&quot;: &quot;billing&quot;}"
        in html
    )

    # Saving again with what the page holds now (no file) keeps the file's seeds.
    resent = {**FORM, "name": "Support intents 2", "seeds": page.context["form"]["seeds"].value()}
    owner_client.post(reverse("spec_create"), resent)
    saved = latest(Spec.objects.get(name="Support intents 2")).seeds
    assert saved == [{"text": "from the file", "label": "billing"}]


def test_an_upload_the_form_did_not_read_is_named_to_choose_again(owner_client):
    upload = SimpleUploadedFile("seeds.csv", b"text,label\nfrom the file,billing\n")
    page = owner_client.post(reverse("spec_create"), {**FORM, "name": "", "seeds_file": upload})
    html = page.content.decode()
    assert "This field is required." in html
    assert "Choose <b>seeds.csv</b> again" in html


def test_errors_of_the_whole_spec_are_not_prefixed_with_a_field_name(owner_client):
    bad = {**FORM, "labels": ""}
    html = owner_client.post(reverse("spec_create"), bad).content.decode()
    assert "a classification spec needs at least 1 label" in html
    assert "__all__" not in html


def test_edit_creates_a_new_version(owner_client, owner):
    spec = make_spec(owner)
    form = owner_client.get(reverse("spec_edit", args=[spec.pk])).content.decode()
    assert "Save as version 2" in form and "I was charged twice for March." in form
    data = {
        "description": "Tickets, edited",
        "labels": "billing\ntechnical_issue\naccount_access",
        "requirements": "",
        "seeds": '{"text": "New seed", "label": "billing"}',
    }
    response = owner_client.post(reverse("spec_edit", args=[spec.pk]), data)
    assert response.status_code == 302
    assert response["Location"].endswith("?v=2")
    v1, v2 = spec.versions.order_by("number")
    assert v1.description == "Support tickets of an invoicing app." and len(v1.seeds) == 3
    assert v2.description == "Tickets, edited"
    assert v2.seeds == [{"text": "New seed", "label": "billing"}]
    v1_page = owner_client.get(reverse("spec_detail", args=[spec.pk]) + "?v=1").content.decode()
    assert "I was charged twice for March." in v1_page


def test_saving_the_edit_form_unchanged_keeps_the_latest_version(owner_client, owner):
    spec = make_spec(owner)
    data = {k: v for k, v in initial_from_version(latest(spec)).items() if v not in ("", False)}
    response = owner_client.post(reverse("spec_edit", args=[spec.pk]), data, follow=True)
    assert response.redirect_chain[-1][0].endswith("?v=1")
    assert "Nothing changed: version 1 stays the latest." in response.content.decode()
    assert spec.versions.count() == 1


def test_seed_script_is_escaped_on_the_detail_page(owner_client, owner):
    evil = "<script>alert(1)</script>"
    spec = make_spec(
        owner,
        name=f"x{evil}",
        description=evil,
        labels=["billing", evil],
        seeds=[{"text": evil, "label": "billing"}, {"text": "hi", "label": evil}],
    )
    services.spec_version_check(version=latest(spec))
    page = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    listing = owner_client.get(reverse("spec_list")).content.decode()
    assert "<script>alert(1)" not in listing


def test_ner_seeds_are_highlighted(owner_client, owner):
    spec = make_spec(
        owner,
        task_type="ner",
        labels=["person"],
        seeds=[{"text": "Ada <b> met", "entities": [{"text": "Ada", "label": "person"}]}],
    )
    page = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    mark = '<mark class="spec-entity" title="person">Ada<sub>person</sub></mark>'
    assert f"{mark} &lt;b&gt; met" in page


def test_another_projects_spec_is_404_in_pages(owner_client):
    spec = make_spec(MembershipFactory(), name="b-secret-spec")
    for name, args in [
        ("spec_detail", [spec.pk]),
        ("spec_edit", [spec.pk]),
        ("spec_version_status", [spec.pk, 1]),
    ]:
        assert owner_client.get(reverse(name, args=args)).status_code == 404, name
    assert owner_client.post(reverse("spec_edit", args=[spec.pk]), FORM).status_code == 404
    assert "b-secret-spec" not in owner_client.get(reverse("spec_list")).content.decode()
    assert owner_client.get(reverse("spec_detail", args=[spec.pk]) + "?v=x").status_code == 404


def test_viewer_sees_no_buttons_and_gets_403(owner):
    spec = make_spec(owner)
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    listing = client.get(reverse("spec_list")).content.decode()
    assert "Support intents" in listing and "New spec" not in listing
    detail = client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert "Edit (new version)" not in detail
    refused = client.get(reverse("spec_create"))
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "Viewers cannot change this project." in page
    assert "You are a viewer of <strong>" in page and 'href="/specs/"' in page  # the app's layout
    assert client.post(reverse("spec_create"), {**FORM, "name": "Other"}).status_code == 403
    assert client.post(reverse("spec_edit", args=[spec.pk]), FORM).status_code == 403
    assert Spec.objects.count() == 1 and latest(spec).number == 1


def test_viewer_empty_state_has_no_create_buttons():
    viewer = MembershipFactory(role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    page = client.get(reverse("spec_list")).content.decode()
    assert "No specs yet" in page and "Start from an example" not in page


def test_large_seeds_are_kept_without_posting_them_back(owner_client, owner, monkeypatch):
    monkeypatch.setattr("apps.specs.forms.PREFILL_SEEDS_CHARS", 100)
    spec = make_spec(owner)
    form = owner_client.get(reverse("spec_edit", args=[spec.pk])).content.decode()
    assert "Keep the 3 seeds of the latest version" in form
    assert "I was charged twice" not in form
    labels = "\n".join(latest(spec).labels)
    data = {"description": "Edited", "labels": labels, "keep_seeds": "on", "seeds": ""}
    assert owner_client.post(reverse("spec_edit", args=[spec.pk]), data).status_code == 302
    assert latest(spec).number == 2 and len(latest(spec).seeds) == 3
    # Labels the kept seeds do not fit are refused on the page, before anything is saved.
    narrowed = {**data, "labels": "billing"}
    page = owner_client.post(reverse("spec_edit", args=[spec.pk]), narrowed).content.decode()
    assert "The spec was not saved:" in page and "Label not in the spec" in page
    assert latest(spec).number == 2


def test_label_counts_draw_bars_only_for_labels_with_seeds(owner_client, owner):
    spec = make_spec(owner, labels=["billing", "bug"], seeds=[{"text": "Twice", "label": "bug"}])
    page = owner_client.get(reverse("spec_detail", args=[spec.pk])).content.decode()
    assert page.count('class="spec-bar"') == 1
    assert page.count('class="spec-bar-cell"') == 2
