"""The Prices table on a provider's page, in headless Chromium: edited with htmx, in place."""

import pytest

from apps.core import services
from apps.core.models import ModelPrice
from tests.fakes.openai_server import MODELS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/seedbed-provider-prices.png"
SCREENSHOT_ERROR = "/tmp/seedbed-provider-prices-error.png"


def test_prices_are_edited_in_place_without_a_reload(live_server, page, fake_openai, settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1"]
    user = services.user_create(username="fay", password="fay-pw-12345")
    project = services.project_create(name="Fay's lab", owner=user)
    membership = project.memberships.get()
    provider = services.provider_create(
        membership=membership,
        name="vllm",
        kind="openai",
        base_url=fake_openai.base_url,
        default_model="fake-gpt",
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "fay")
    page.fill("input[name=password]", "fay-pw-12345")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/providers/")
    page.get_by_role("link", name="vllm").click()
    page.wait_for_url(f"**/providers/{provider.pk}/")

    prices = page.locator("#prices")
    assert "no price set" in prices.locator("tr[data-model=fake-gpt]").inner_text()
    assert "OpenAI-compatible" in page.inner_text("body")
    assert page.locator("#provider-tools").inner_text() == "Supported"
    # The model field offers what the provider lists, loaded after the page.
    options = page.locator(f"#model-options-{provider.pk} option")
    options.nth(len(MODELS) - 1).wait_for(state="attached")
    assert [options.nth(n).get_attribute("value") for n in range(options.count())] == MODELS

    page.evaluate("window.notReloaded = true")  # gone if the page reloads

    page.fill("#id_new_price_model", "fake-gpt-mini")
    page.fill("#id_new_price_input_per_million", "0.15")
    page.fill("#id_new_price_output_per_million", "0.6")
    page.get_by_role("button", name="Add price").click()
    page.get_by_text("Price of fake-gpt-mini saved.").wait_for()
    row = prices.locator("tr[data-model=fake-gpt-mini]")
    assert row.locator("input[name=input_per_million]").input_value() == "0.15"

    # A bad value is refused in its row, naming the field and the limit.
    row.locator("input[name=output_per_million]").fill("20000")
    row.get_by_role("button", name="Save").click()
    error = prices.locator("tr[data-model=fake-gpt-mini] .error")
    error.wait_for()
    assert error.inner_text() == "Output price is at most 10,000 dollars per million tokens."
    page.locator("#prices").screenshot(path=SCREENSHOT_ERROR)

    # The default model's "no price set" row takes its price in place.
    default = prices.locator("tr[data-model=fake-gpt]")
    default.locator("input[name=input_per_million]").fill("3")
    default.locator("input[name=output_per_million]").fill("15")
    default.get_by_role("button", name="Set price").click()
    page.get_by_text("Price of fake-gpt saved.").wait_for()
    assert "no price set" not in prices.locator("tr[data-model=fake-gpt]").inner_text()
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
    prices.locator("tr[data-model=fake-gpt-mini]").get_by_role("button", name="Remove").click()
    page.get_by_text("Price of fake-gpt-mini removed.").wait_for()
    assert prices.locator("tr[data-model=fake-gpt-mini]").count() == 0
    assert page.evaluate("window.notReloaded") is True

    stored = {
        p.model: (p.input_per_million, p.output_per_million) for p in ModelPrice.objects.all()
    }
    assert stored == {"fake-gpt": (3, 15)}
