"""The history page in headless Chromium: review with the keyboard, correct entities,
promote to a dataset and find the samples on the dataset page."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

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
        # A correction may use only the labels the call asked for.
        request={"text": text, "schema": {"entities": ["person", "city", "thing"]}},
        input_text=text,
        output={"entities": found},
        status="ok",
    )


def settle(page) -> None:
    """Wait until htmx has no request, swap or settle under way."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
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
    settle(page)  # "c" moves on once its answer is swapped in; let that happen first
    assert page.evaluate("window.__xss === undefined")  # the <img onerror> never ran

    # Ada's call: k goes back up, e opens the editor; fix the span and add London.
    page.keyboard.press("k")
    page.locator(f"#call-{ada.pk}").wait_for()
    settle(page)
    page.keyboard.press("e")
    rows = page.locator(".entity-list .entity-row")
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
    # JSON typed into the textarea and saved with a click: the rows it adds above the
    # button must not move the button away from under the pointer.
    page.locator("#entities-json").fill(
        '[{"text": "Ada", "label": "person"}, {"text": "engine", "label": "thing"},'
        ' {"text": "London", "label": "city"}]'
    )
    page.get_by_role("button", name="Save correction").click()
    page.locator(".call-text.corrected mark[data-label=thing]").wait_for()
    corrected = Inference.objects.get(pk=ada.pk).corrected_output
    assert [e["text"] for e in corrected["entities"]] == ["Ada", "engine", "London"]

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


async def _extract(*, provider, upstream_model: str, text: str, schema, threshold) -> dict:
    words = {"Ada": "person", "Grace": "person", "Paris": "city", "London": "city"}
    entities = [
        {"text": w, "label": label, "start": text.find(w), "end": text.find(w) + len(w)}
        for w, label in words.items()
        if w in text
    ]
    return {"entities": sorted(entities, key=lambda e: e["start"])}


def test_label_a_file_and_follow_the_job(live_server, page, tmp_path, monkeypatch):
    from apps.core import tasks
    from apps.core.jobs import job_step
    from apps.inference.gateway import extraction
    from apps.inference.models import LabellingJob
    from tests.factories import ProviderFactory

    monkeypatch.setattr(extraction, "extract", _extract)
    monkeypatch.setattr(tasks.job_step_task, "apply_async", lambda *args, **kwargs: None)
    user = core_services.user_create(username="lena", password="lena-pw-12345")
    project = core_services.project_create(name="Lena's lab", owner=user)
    ProviderFactory(project=project, name="fake", default_model="fake-gpt")

    _login(page, live_server, "lena", "lena-pw-12345")
    page.goto(f"{live_server.url}/inference/label/")
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"text": "Ada in Paris"}\n{"text": broken}\n{"body": "Grace"}\n')
    page.set_input_files("input[name=file]", str(bad))
    page.fill("textarea[name=labels]", "person, city")
    page.fill("input[name=dataset_name]", "notes")
    page.fill("input[name=model_id]", "fake/fake-gpt")
    page.get_by_role("button", name="Start labelling").click()
    page.get_by_text("Line 2: not valid JSON").wait_for()
    page.get_by_text('Line 3: expected an object with a "text" string.').wait_for()
    page.screenshot(path="/tmp/inference-label-errors.png", full_page=True)

    good = tmp_path / "notes.txt"
    good.write_text("Ada wrote from London.\nGrace flew to Paris.\n<b>Nobody</b> here.\n")
    page.set_input_files("input[name=file]", str(good))
    page.get_by_role("button", name="Start labelling").click()
    page.wait_for_url("**/inference/label/*/")
    job = LabellingJob.objects.get(project=project)
    page.locator("#job-progress .badge-queued").wait_for()
    page.screenshot(path="/tmp/inference-label-job-queued.png", full_page=True)

    # What the worker would do (on a thread: Playwright's loop runs in this one); the
    # page's 2 s poll shows the result without a reload.
    def work() -> str | None:
        try:
            outcome = job_step(kind_name="labelling", pk=job.pk, step=0)
            return outcome.kind if outcome else None
        finally:
            connection.close()  # the thread's own connection; it would outlive the test

    with ThreadPoolExecutor(1) as worker:
        assert worker.submit(work).result() == "done"
    page.locator("#job-progress .badge-succeeded").wait_for()
    assert page.locator("#job-progress[hx-trigger]").count() == 0  # polling stopped
    page.screenshot(path="/tmp/inference-label-job-done.png", full_page=True)
    page.get_by_role("button", name="Review notes v1").click()
    page.locator(".sample").first.wait_for()
    assert page.locator(".sample").count() == 3
    assert page.locator(".sample mark[data-label=city]").count() == 2
    page.screenshot(path="/tmp/inference-label-dataset.png", full_page=True)


def test_on_a_phone_a_tapped_call_is_scrolled_into_view(live_server, browser):
    user = core_services.user_create(username="pia", password="pia-pw-123456")
    project = core_services.project_create(name="Pia's lab", owner=user)
    calls = [_record(project, f"Call {n} from Grace Hopper.", []) for n in range(12)]
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    _login(page, live_server, "pia", "pia-pw-123456")
    page.goto(f"{live_server.url}/inference/")
    assert "press" not in page.locator("#inference-detail").inner_text()  # no keyboard here
    page.locator(f"#inference-row-{calls[0].pk}").click()
    page.locator(f"#call-{calls[0].pk}").wait_for()
    top = page.evaluate("document.querySelector('#inference-detail').getBoundingClientRect().top")
    # Scrolled down to it (as far as the page goes): it starts on the screen.
    assert page.evaluate("scrollY") > 0 and 0 <= top < 844 - 200, top
    page.screenshot(path="/tmp/inference-phone-detail.png")
    phone.close()
