"""Every model a project can call has a stable UUID (Collinear's `model_id`), listed in
`GET /v1/models` metadata and on the Models page."""

from __future__ import annotations

import uuid

import httpx
import pytest

from apps.inference.models import ModelAlias
from apps.inference.registry import MODEL_UUID_NAMESPACE, model_uuid

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_uuid_is_uuid5_of_the_model_id_in_a_fixed_namespace():
    assert model_uuid("fake/fake-gpt") == uuid.uuid5(MODEL_UUID_NAMESPACE, "fake/fake-gpt")
    assert str(MODEL_UUID_NAMESPACE) == "5eedbed0-c011-4ea2-9d1d-0de1a0000001"  # never changes
    assert model_uuid("fake/fake-gpt") != model_uuid("fake/fake-gpt-mini")


def test_models_list_and_page_show_each_models_uuid(live_collinear, client):
    membership = live_collinear.membership
    provider = membership.project.providers.get()
    ModelAlias.objects.create(
        project=membership.project, alias="support", provider=provider, model="fake-gpt"
    )
    listed = httpx.get(f"{live_collinear.base_url}/v1/models", headers=live_collinear.headers())
    assert listed.status_code == 200
    uuids = {m["id"]: m["metadata"]["uuid"] for m in listed.json()["data"]}
    assert uuids["fake/fake-gpt"] == live_collinear.model_id
    assert uuids["support"] == str(model_uuid("support"))
    assert uuids["fake/fake-gpt-mini"] == str(model_uuid("fake/fake-gpt-mini"))
    one = httpx.get(
        f"{live_collinear.base_url}/v1/models/support", headers=live_collinear.headers()
    )
    assert one.json()["metadata"] == {"uuid": uuids["support"]}
    client.force_login(membership.user)
    page = client.get("/inference/models/").content.decode()
    assert all(value in page for value in uuids.values())
