"""Steps a person takes in the browser before a run, shared by the run pages' tests."""

from typing import Any

from apps.core import services as core_services
from apps.specs.models import Spec


def sign_in_with_a_fake_provider(
    page: Any, live_server: Any, fake_openai: Any, name: str, *, max_concurrency: int = 4
) -> None:
    """A new user `name` with a project whose provider "fake" is the fake server, signed in."""
    password = f"{name}-pw-12345"
    user = core_services.user_create(username=name, password=password)
    project = core_services.project_create(name=f"{name.title()}'s lab", owner=user)
    core_services.provider_create(
        membership=project.memberships.get(),
        name="fake",
        kind="openai",
        base_url=fake_openai.base_url,
        default_model="fake-model",
        max_concurrency=max_concurrency,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def create_the_example_spec(page: Any) -> list[str]:
    """The example spec, created and checked by the worker; its labels."""
    page.get_by_role("link", name="Specs").click()
    page.get_by_role("button", name="Start from an example").click()
    page.get_by_role("button", name="Create spec").click()
    page.get_by_text("succeeded").wait_for(timeout=30_000)
    return list(Spec.objects.get().versions.get().labels)
