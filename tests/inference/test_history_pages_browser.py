"""The history page in headless Chromium: review with the keyboard, correct entities,
promote to a dataset and find the samples on the dataset page."""

import pytest

from apps.core import services as core_services
from apps.datasets.models import Sample
from apps.inference.models import Inference

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CALLS = [
    (
        "Grace Hopper joined the Navy in New York. <img src=x onerror=window.__xss=1>",
        [("Grace Hopper", "person")],
    ),
    ("Ada Lovelace wrote notes on the engine in London.", [("Ada", "person")]),
]


def _record(project, text: str, entities: list[tuple[str, str]]) -> Inference:
    from apps.inference.recording import inference_record

    found = [
        {"text": e, "label": label, "start": text.find(e), "end": text.find(e) + len(e)}
        for e, label in entities
    ]
    return inference_record(
        project=project,
        model_id="fake/fake-gpt",
        protocol="native",
        task="extract",
        request={"text": text, "schema": {"entities": ["person", "city"]}},
        input_text=text,
        output={"entities": found},
        status="ok",
    )


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_review_correct_and_promote_in_the_browser(live_server, page):
    user = core_services.user_create(username="rita", password="rita-pw-12345")
    project = core_services.project_create(name="Rita's lab", owner=user)
    grace, ada = (_record(project, text, entities) for text, entities in CALLS)

    _login(page, live_server, "rita", "rita-pw-12345")
    page.get_by_role("link", name="Inference").click()
    page.locator(f"#inference-row-{ada.pk}").wait_for()
    page.screenshot(path="/tmp/inference-history.png", full_page=True)

    # j selects the newest call (Ada), j again the next one (Grace); c marks it correct.
    page.keyboard.press("j")
    page.locator(f"#call-{ada.pk}").wait_for()
    page.keyboard.press("j")
    page.locator(f"#call-{grace.pk}").wait_for()
    page.screenshot(path="/tmp/inference-detail.png", full_page=True)
    page.keyboard.press("c")
    page.locator(f"#inference-row-{grace.pk} .verdict-badge.correct").wait_for()
    assert Inference.objects.get(pk=grace.pk).verdict == "correct"
    assert page.evaluate("window.__xss === undefined")  # the <img onerror> never ran

    # Ada's call: k goes back up, e opens the editor; fix the span and add London.
    page.keyboard.press("k")
    page.locator(f"#call-{ada.pk}").wait_for()
    page.keyboard.press("e")
    rows = page.locator(".entity-row")
    rows.first.wait_for()
    rows.first.locator(".er-text").fill("Ada Lovelace")
    rows.first.locator(".er-start").fill("")
    page.get_by_role("button", name="Add entity").click()
    rows.nth(1).locator(".er-text").fill("London")
    rows.nth(1).locator(".er-label").fill("city")
    page.screenshot(path="/tmp/inference-editor.png", full_page=True)
    page.keyboard.press("Control+Enter")
    page.locator(f"#inference-row-{ada.pk} .verdict-badge.incorrect").wait_for()
    page.locator(".call-text.corrected mark[data-label=city]").wait_for()
    page.screenshot(path="/tmp/inference-corrected.png", full_page=True)
    corrected = Inference.objects.get(pk=ada.pk).corrected_output
    assert [(e["text"], e["label"]) for e in corrected["entities"]] == [
        ("Ada Lovelace", "person"),
        ("London", "city"),
    ]

    # An invalid correction shows its error inline and changes nothing.
    page.keyboard.press("e")
    page.locator("#entities-json").fill('[{"text": "Paris", "label": "city"}]')
    page.get_by_role("button", name="Save correction").click()
    page.get_by_text("Entity 1: 'Paris' is not in the text.").wait_for()
    page.keyboard.press("Escape")

    # Promote both reviewed calls into a new dataset and see them on its page.
    page.locator("#promote-box summary").click()
    page.fill("input[name=dataset_name]", "reviewed people")
    page.get_by_role("button", name="Promote").click()
    page.wait_for_url("**/datasets/**")
    page.locator(".sample").first.wait_for()
    assert page.locator(".sample").count() == 2
    page.locator(".sample mark[data-label=city]").wait_for()
    page.screenshot(path="/tmp/inference-promoted.png", full_page=True)
    lineage = sorted(s.lineage["inference_id"] for s in Sample.objects.all())
    assert lineage == sorted([grace.pk, ada.pk])
    assert page.evaluate("window.__xss === undefined")
