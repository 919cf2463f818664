import pytest
from django.test import Client
from tests.datasets.helpers import add_version, classification, ner

pytestmark = pytest.mark.django_db

def test_smoke(owner, owner_client, owner_key):
    v = add_version(owner.project, "tickets", [classification(i) for i in range(10)])
    add_version(owner.project, "tickets", [classification(i) for i in range(10, 15)])
    n = add_version(owner.project, "people", [ner(i) for i in range(3)], task_type="ner")
    r = owner_client.get("/datasets/")
    assert r.status_code == 200, r.content
    print(r.content.decode()[-3000:])
    r = owner_client.get(f"/datasets/{v.dataset_id}/")
    assert r.status_code == 200
    r = owner_client.get(f"/datasets/{n.dataset_id}/")
    assert r.status_code == 200
    print(r.content.decode()[-6000:])
    r = owner_client.get(f"/datasets/{v.dataset_id}/?version=1&label=billing", HTTP_HX_REQUEST="true")
    print(r.content.decode()[:1500])
    r = Client().get(f"/api/v1/datasets/{v.dataset_id}/samples/?limit=3", HTTP_X_API_KEY=owner_key)
    print(r.json())
    r = Client().get(f"/api/v1/datasets/{v.dataset_id}/", HTTP_X_API_KEY=owner_key)
    print(r.json())
    r = Client().get(f"/api/v1/datasets/{v.dataset_id}/export?format=csv", HTTP_X_API_KEY=owner_key)
    print(r.status_code, b"".join(r.streaming_content)[:500])
