"""The spec pages' "Draft a spec from seeds": a seeds file becomes a spec written by the
worker job Dataframer's API uses; its page follows the job to the spec."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.core.jobs import job_step
from apps.core.models import Role
from apps.dataframer.models import GeneratedSpec, SeedDataset
from apps.specs.models import Spec
from tests.dataframer.conftest import Responder, tickets_csv
from tests.factories import MembershipFactory, ProviderFactory
from tests.specs.helpers import run_check

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def writer(owner, fake_openai):
    ProviderFactory(
        project=owner.project, name="fake", base_url=fake_openai.base_url, default_model="m1"
    )
    fake_openai.responder = Responder()
    return fake_openai.responder


def _post(client, seeds: bytes, name: str = "tickets", **extra):
    upload = SimpleUploadedFile("tickets.csv", seeds, content_type="text/csv")
    return client.post(reverse("spec_draft"), {"name": name, "seeds": upload, **extra})


def test_a_seeds_file_becomes_a_spec_written_on_the_worker(owner_client, writer, owner):
    assert "Draft from seeds" in owner_client.get(reverse("spec_list")).content.decode()
    form = owner_client.get(reverse("spec_draft")).content.decode()
    assert 'type="file" name="seeds"' in form
    response = _post(owner_client, tickets_csv(6), description="Support tickets")
    draft = GeneratedSpec.objects.get()
    status_url = reverse("spec_draft_status", args=[draft.uid])
    assert response.status_code == 302 and response["Location"] == status_url
    assert SeedDataset.objects.get().sample_count == 6
    page = owner_client.get(status_url).content.decode()
    assert "A worker is writing the spec" in page and 'hx-trigger="every 2s"' in page

    job_step(kind_name="dataframer_spec", pk=draft.pk, step=0)  # as the worker does
    run_check(Spec.objects.get(name="tickets").versions.get())
    page = owner_client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    spec = Spec.objects.get(name="tickets")
    assert f'href="{reverse("spec_detail", args=[spec.pk])}">Open the spec' in page
    assert "hx-trigger" not in page  # done: no more polling
    assert len(writer.spec_calls) == 1
    assert "Support tickets" in str(writer.spec_calls[0]["messages"])


@pytest.mark.parametrize(
    ("seeds", "extra", "field", "message"),
    [
        (tickets_csv(1), {}, "seeds", "at least 2"),
        (b"\x00\x01 not a csv", {}, "seeds", ""),
        (tickets_csv(4), {"model": "nobody/none"}, "model", "nobody/none"),
    ],
)
def test_bad_seeds_or_model_are_named_inline_and_nothing_is_made(
    owner_client, writer, seeds, extra, field, message
):
    page = _post(owner_client, seeds, **extra)
    body = page.content.decode()
    assert page.status_code == 200 and "Nothing was started." in body
    errors = re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', body) or re.search(
        rf'aria-invalid="true"[^>]*id="id_{field}"', body
    )
    assert errors, body[body.index("<form") :][:3000]
    assert message in body
    assert not GeneratedSpec.objects.exists() and not SeedDataset.objects.exists()


def test_a_name_taken_is_refused_and_viewers_and_strangers_are_kept_out(
    owner_client, writer, owner
):
    _post(owner_client, tickets_csv(3))
    again = _post(owner_client, tickets_csv(3)).content.decode()
    assert "already exists" in again
    assert GeneratedSpec.objects.count() == 1
    viewer = Client()
    viewer.force_login(MembershipFactory(project=owner.project, role=Role.VIEWER).user)
    assert viewer.get(reverse("spec_draft")).status_code == 403
    stranger = Client()
    stranger.force_login(MembershipFactory().user)
    draft = GeneratedSpec.objects.get()
    assert stranger.get(reverse("spec_draft_status", args=[draft.uid])).status_code == 404
