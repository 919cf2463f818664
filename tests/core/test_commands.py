from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.core.models import ApiKey, Membership, Project, Provider

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_provisioning_from_the_command_line():
    run("seedbed_user", "alice", "--password", "pw-alice-123")
    run("seedbed_user", "bob", "--password", "pw-bob-123")
    assert "slug ml-team" in run("seedbed_project", "ML team", "--owner", "alice")
    run("seedbed_member", "ml-team", "bob", "--role", "viewer")
    raw = run("seedbed_api_key", "ml-team", "bob", "--name", "ci")

    assert Membership.objects.get(user__username="bob").role == "viewer"
    assert ApiKey.objects.get(name="ci").prefix == raw[:10]
    # Every new project gets the embedded provider; the key sees it.
    response = Client().get("/api/v1/providers/", HTTP_X_API_KEY=raw)
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["embedded"]


def test_command_errors_are_clear():
    run("seedbed_user", "alice", "--password", "pw-alice-123")
    with pytest.raises(CommandError, match="already exists"):
        run("seedbed_user", "alice", "--password", "again-123")
    with pytest.raises(CommandError, match="not a member"):
        run("seedbed_api_key", "nope", "alice")


def test_seed_demo_runs_once():
    assert "created demo user" in run("seed_demo")
    assert "created demo user" not in run("seed_demo")
    assert Provider.objects.filter(kind="embedded").count() == 1


def test_admin_lists_every_model(admin_client):
    from django.apps import apps
    from django.contrib import admin

    # Index rows kept for a lookup (e.g. near-duplicate bands) are no one's to edit.
    ours = [
        m
        for m in apps.get_models()
        if m.__module__.startswith("apps.") and not getattr(m, "index_only", False)
    ]
    missing = [m.__name__ for m in ours if not admin.site.is_registered(m)]
    assert missing == []
    for model in ours:
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url


def test_a_project_added_in_the_admin_gets_the_embedded_provider(admin_client):
    response = admin_client.post(
        "/admin/core/project/add/",
        {
            "name": "Team B",
            "slug": "team-b",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(slug="team-b")
    assert list(project.providers.values_list("kind", flat=True)) == ["embedded"]
    # Saving it again adds no second one.
    admin_client.post(
        f"/admin/core/project/{project.pk}/change/",
        {"name": "Team B2", "slug": "team-b", "memberships-TOTAL_FORMS": "0",
         "memberships-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert project.providers.count() == 1


def test_records_are_shown_but_not_added_edited_or_deleted_in_the_admin(admin_client, owner):
    from apps.datasets.models import Sample
    from tests.datasets.helpers import add_version, classification

    add_version(owner.project, "tickets", [classification(i) for i in range(2)])
    sample = Sample.objects.first()
    assert admin_client.get("/admin/datasets/sample/add/").status_code == 403
    page = admin_client.get(f"/admin/datasets/sample/{sample.pk}/change/").content.decode()
    assert sample.text in page and 'name="_save"' not in page
    edit = admin_client.post(
        f"/admin/datasets/sample/{sample.pk}/change/", {"text": "changed by hand"}
    )
    assert edit.status_code == 403
    assert admin_client.post(f"/admin/datasets/sample/{sample.pk}/delete/").status_code == 403
    sample.refresh_from_db()
    assert sample.text != "changed by hand"


def test_api_keys_are_only_revoked_in_the_admin(admin_client, owner, owner_key):
    from apps.core.models import ApiKey

    key = ApiKey.objects.get()
    page = admin_client.get(f"/admin/core/apikey/{key.pk}/change/").content.decode()
    for field in ("user", "project", "revoked_at", "key_hash"):
        assert f'name="{field}"' not in page, field
    assert key.key_hash not in page
    admin_client.post("/admin/core/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
