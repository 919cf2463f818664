import pytest

from apps.core.models import Provider
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

FORM = {
    "name": "vllm",
    "kind": "openai",
    "base_url": "http://127.0.0.1:8001/v1",  # allow-listed below, as a team's own vLLM
    "structured_output": "json_schema",
    "max_concurrency": 4,
    "timeout_seconds": 30,
}


def test_provider_limits_are_checked_inline_with_their_ranges(owner_client, owner, settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8001"]
    before = Provider.objects.filter(project=owner.project).count()
    bad = {**FORM, "timeout_seconds": 0, "requests_per_minute": 0, "max_concurrency": 2000}
    page = owner_client.post("/providers/new/", bad).content.decode()
    assert 'id="id_timeout_seconds_error"' in page
    assert "Give more than 0 and at most 3,600 seconds." in page
    assert 'id="id_requests_per_minute_error"' in page
    assert 'id="id_max_concurrency_error"' in page
    assert "Constraint" not in page
    assert "Empty: no limit." in page  # what an empty limit means
    assert Provider.objects.filter(project=owner.project).count() == before

    response = owner_client.post("/providers/new/", {**FORM, "requests_per_minute": 600})
    assert response.status_code == 302
    created = Provider.objects.get(project=owner.project, name="vllm")
    assert (created.requests_per_minute, created.timeout_seconds) == (600, 30.0)


def test_a_new_provider_form_offers_no_key_to_keep_or_remove(owner_client, owner):
    new = owner_client.get("/providers/new/").content.decode()
    assert ">Base URL" in new and ">API key" in new
    assert "Remove the stored API key" not in new and "keep the current key" not in new

    provider = ProviderFactory(project=owner.project)
    edit = owner_client.get(f"/providers/{provider.pk}/edit/").content.decode()
    assert "Remove the stored API key" in edit and "Leave empty to keep the current key." in edit
