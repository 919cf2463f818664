"""History page: filters, live rows, detail, feedback and corrections over htmx, promotion,
the models page; viewers and other projects."""

import json
from typing import Any

import pytest
from django.test import Client

from apps.core.models import Role
from apps.datasets.models import Dataset, Sample
from apps.inference import promote
from apps.inference.models import Feedback, Inference, ModelAlias
from tests.factories import MembershipFactory, ProviderFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
TEXT = "Ada Lovelace met Charles Babbage in London."
LONDON = {"text": "London", "label": "city"}


def record(project: Any, **fields: Any) -> Inference:
    """A history row as the gateway writes one (through its recording function)."""
    from apps.inference.recording import inference_record

    values: dict[str, Any] = {
        "model_id": "fake/fake-gpt",
        "protocol": "native",
        "task": "extract",
        "request": {
            "text": fields.get("input_text", TEXT),
            "schema": {"entities": ["person", "city"]},
        },
        "input_text": TEXT,
        "output": {
            "entities": [
                {
                    "text": "Ada Lovelace",
                    "label": "person",
                    "start": 0,
                    "end": 12,
                    "confidence": 0.9,
                }
            ]
        },
        "status": "ok",
        **fields,
    }
    return inference_record(project=project, **values)


def ner_call(project: Any, **fields: Any) -> Inference:
    return record(project, **fields)


def chat_call(project: Any, **fields: Any) -> Inference:
    values = {
        "task": "chat",
        "protocol": "openai",
        "request": {"messages": [{"role": "user", "content": "Say hi"}]},
        "input_text": "Say hi",
        "output": {"choices": [{"message": {"role": "assistant", "content": "Hello!"}}]},
        "output_text": "Hello!",
        **fields,
    }
    return record(project, **values)


def classification_call(project: Any, **fields: Any) -> Inference:
    values = {
        "task": "label_classification",
        "request": {
            "text": "Where is my invoice?",
            "schema": {"classifications": [{"task": "label", "labels": ["billing", "bug"]}]},
        },
        "input_text": "Where is my invoice?",
        "output": {"text": "Where is my invoice?", "label": "bug", "confidence": 0.6},
        **fields,
    }
    return record(project, **values)


@pytest.fixture
def viewer_client(owner) -> Client:
    viewer: Any = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    return client


# --- listing ---------------------------------------------------------------------------


def test_history_lists_calls_and_filters(owner_client, owner):
    a = ner_call(owner.project, model_id="fake/a", training_job_id="job-1")
    b = chat_call(owner.project, model_id="fake/b")
    c = ner_call(owner.project, model_id="fake/a")
    Inference.objects.filter(pk=c.pk).update(verdict="correct")
    other = ner_call(MembershipFactory().project)

    def ids(query: str) -> set[int]:
        html = owner_client.get(f"/inference/?{query}").content.decode()
        return {i.pk for i in (a, b, c, other) if f'id="inference-row-{i.pk}"' in html}

    assert ids("") == {a.pk, b.pk, c.pk}
    assert ids("model_id=fake/a") == {a.pk, c.pk}
    assert ids("task=chat") == {b.pk}
    assert ids("verdict=correct") == {c.pk}
    assert ids("training_job_id=job-1") == {a.pk}
    assert ids("verdict=unreviewed") == {a.pk, b.pk}


def test_tasks_are_named_in_the_filter_the_rows_and_the_call_page(owner_client, owner):
    call = chat_call(owner.project)
    html = owner_client.get("/inference/").content.decode()
    assert '<span class="task-type">Chat completion (OpenAI)</span>' in html  # the row
    detail = owner_client.get(f"/inference/{call.pk}/").content.decode()
    assert '<span class="task-type">Chat completion (OpenAI)</span>' in detail
    # Labelling tasks are named as task types are everywhere else (TaskType labels).
    assert '<option value="label_ner" >Labelling · Named-entity recognition</option>' in html
    assert '<option value="label_classification" >Labelling · Classification</option>' in html
    assert '<option value="chat" >Chat completion (OpenAI)</option>' in html
    assert ">label_ner<" not in html and ">chat<" not in html
    selected = owner_client.get("/inference/?task=messages").content.decode()
    assert '<option value="messages" selected>Message (Anthropic)</option>' in selected


def test_filter_change_over_htmx_renders_only_the_list(owner_client, owner):
    call = ner_call(owner.project)
    html = owner_client.get("/inference/?task=extract", **HX).content.decode()
    assert "<html" not in html and f"inference-row-{call.pk}" in html
    assert 'id="history-poll"' in html


def test_new_calls_are_prepended_by_the_poller(owner_client, owner):
    first = ner_call(owner.project)
    assert owner_client.get(f"/inference/new/?after={first.pk}", **HX).status_code == 204
    second = chat_call(owner.project)
    response = owner_client.get(f"/inference/new/?after={first.pk}", **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f"inference-row-{second.pk}" in html and f"inference-row-{first.pk}" not in html
    assert 'hx-swap-oob="afterbegin:#history-rows"' in html
    assert f"after={second.pk}" in html  # the new poller asks for calls after this one
    # The filter applies to new calls too.
    assert (
        owner_client.get(f"/inference/new/?after={first.pk}&task=extract", **HX).status_code == 204
    )


# --- detail and escaping ---------------------------------------------------------------


def test_detail_highlights_entities_and_escapes_content(owner_client, owner):
    text = 'Ada <script>alert("x")</script> met Bob'
    call = ner_call(
        owner.project,
        input_text=text,
        model_id="fake/<b>m</b>",
        output={"entities": [{"text": "Ada", "label": "<i>person</i>", "start": 0, "end": 3}]},
    )
    html = owner_client.get(f"/inference/{call.pk}/", **HX).content.decode()
    assert (
        "<script>alert" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    )
    assert "<b>m</b>" not in html and "<i>person</i>" not in html
    assert 'data-label="&lt;i&gt;person&lt;/i&gt;"' in html
    assert '<div class="sample-text call-text" hx-disable><mark' in html
    full = owner_client.get(f"/inference/{call.pk}/").content.decode()
    assert "<html" in full and "<script>alert" not in full
    # The editor's JSON textarea and label list carry the same content, escaped too.
    tricky = ner_call(
        owner.project,
        input_text="Say </textarea><script>alert(1)</script> now",
        output={"entities": [{"text": "</textarea><script>", "label": "x", "start": 4, "end": 23}]},
    )
    editor = owner_client.get(f"/inference/{tricky.pk}/correct/", **HX).content.decode()
    assert "</textarea><script>" not in editor and "&lt;/textarea&gt;&lt;script&gt;" in editor
    # Without htmx the editor comes as a whole page (forms work without JavaScript).
    page = owner_client.get(f"/inference/{tricky.pk}/correct/").content.decode()
    assert "<html" in page and 'name="entities"' in page and "<script>alert" not in page


def test_a_selected_call_has_an_address_that_reopens_it(owner_client, owner):
    first, second = ner_call(owner.project), chat_call(owner.project, model_id="fake/other")
    listing = owner_client.get("/inference/?model_id=fake/other").content.decode()
    assert f'hx-push-url="/inference/?model_id=fake%2Fother&amp;call={second.pk}"' in listing
    page = owner_client.get(f"/inference/?call={first.pk}").content.decode()
    assert f'id="call-{first.pk}"' in page  # its detail is open beside the list
    assert f'inference-row verdict-none selected" id="inference-row-{first.pk}"' in page
    assert "Select a call" not in page
    assert f'id="call-{second.pk}"' not in page


def test_token_counts_a_provider_did_not_report_are_not_shown_as_zero(owner_client, owner):
    # llama.cpp's server sends no usage in a stream: the call's counts stay 0.
    streamed = chat_call(owner.project, streamed=True)
    page = owner_client.get(f"/inference/{streamed.pk}/").content.decode()
    assert "tokens not reported by the provider" in page and "0 + 0 tokens" not in page
    counted = chat_call(owner.project, input_tokens=12, output_tokens=3)
    assert "12 + 3 tokens" in owner_client.get(f"/inference/{counted.pk}/").content.decode()


def test_other_projects_calls_are_404(owner_client):
    other = ner_call(MembershipFactory().project)
    assert owner_client.get(f"/inference/{other.pk}/").status_code == 404
    assert owner_client.get(f"/inference/?call={other.pk}").status_code == 404
    assert (
        owner_client.post(f"/inference/{other.pk}/feedback/", {"verdict": "correct"}).status_code
        == 404
    )


# --- feedback and corrections ----------------------------------------------------------


def test_correct_button_and_incorrect_asks_for_the_answer(owner_client, owner):
    call = ner_call(owner.project)
    response = owner_client.post(f"/inference/{call.pk}/feedback/", {"verdict": "correct"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="inference-row-{call.pk}"' in html and 'hx-swap-oob="true"' in html
    call.refresh_from_db()
    assert call.verdict == "correct"
    # inference_feedback wants the right answer with `incorrect`: the editor opens for it.
    incorrect = owner_client.post(f"/inference/{call.pk}/feedback/", {"verdict": "incorrect"}, **HX)
    assert incorrect.status_code == 200 and incorrect["HX-Retarget"] == "#call-editor"
    assert "needs the right answer" in incorrect.content.decode()
    assert 'name="entities"' in incorrect.content.decode()
    call.refresh_from_db()
    assert call.verdict == "correct"
    owner_client.post(
        f"/inference/{call.pk}/correct/",
        {"entities": '[{"text": "Ada", "label": "person"}]'},
        **HX,
    )
    call.refresh_from_db()
    assert call.verdict == "incorrect"
    assert list(Feedback.objects.filter(inference=call).values_list("verdict", flat=True)) == [
        "incorrect",
        "correct",
    ]
    bad = owner_client.post(f"/inference/{call.pk}/feedback/", {"verdict": "meh"}, **HX)
    assert bad.status_code == 400


def test_entity_correction_is_validated_and_saved(owner_client, owner):
    call = ner_call(owner.project)
    editor = owner_client.get(f"/inference/{call.pk}/correct/", **HX).content.decode()
    assert 'name="entities"' in editor and "Ada Lovelace" in editor

    bad = owner_client.post(
        f"/inference/{call.pk}/correct/",
        {"entities": '[{"text": "Charles Babbbage", "label": "person"}]'},
        **HX,
    )
    assert bad.status_code == 200 and bad["HX-Retarget"] == "#call-editor"
    assert "Entity 1: &#x27;Charles Babbbage&#x27; is not in the text." in bad.content.decode()
    call.refresh_from_db()
    assert call.verdict == "" and call.corrected_output is None

    broken = owner_client.post(f"/inference/{call.pk}/correct/", {"entities": "[{"}, **HX)
    assert "Entities are not valid JSON" in broken.content.decode()

    good = owner_client.post(
        f"/inference/{call.pk}/correct/",
        {
            "entities": '[{"text": "Ada Lovelace", "label": "person"}, '
            '{"text": "Charles Babbage", "label": "person"}, '
            '{"text": "London", "label": "city", "start": 36, "end": 42}]'
        },
        **HX,
    )
    assert good.status_code == 200 and "HX-Retarget" not in good
    call.refresh_from_db()
    assert call.verdict == "incorrect"
    assert [(e["text"], e["start"], e["end"]) for e in call.corrected_output["entities"]] == [
        ("Ada Lovelace", 0, 12),
        ("Charles Babbage", 17, 32),
        ("London", 36, 42),
    ]


def test_offsets_that_do_not_match_the_text_are_refused(owner_client, owner):
    call = ner_call(owner.project)
    bad = owner_client.post(
        f"/inference/{call.pk}/correct/",
        {"entities": '[{"text": "London", "label": "city", "start": 3, "end": 9}]'},
        **HX,
    )
    assert "Entity 1: the text at 3–9 is" in bad.content.decode()
    overlap = owner_client.post(
        f"/inference/{call.pk}/correct/",
        {
            "entities": json.dumps(
                [{"text": "Ada Lovelace", "label": "p"}, {"text": "Ada", "label": "x"}]
            )
        },
        **HX,
    )
    assert "overlap" in overlap.content.decode()


def test_class_and_text_corrections(owner_client, owner):
    cls = classification_call(owner.project)
    editor = owner_client.get(f"/inference/{cls.pk}/correct/", **HX).content.decode()
    assert 'type="radio" name="classes" value="billing"' in editor
    # The call named its classes: the editor offers no other, and the service refuses one.
    assert "Other class" not in editor
    other = owner_client.post(f"/inference/{cls.pk}/correct/", {"new_class": "feature"}, **HX)
    assert "&#x27;feature&#x27; is not one of the call&#x27;s labels: billing, bug." in (
        other.content.decode()
    )
    two = owner_client.post(f"/inference/{cls.pk}/correct/", {"classes": ["billing", "bug"]}, **HX)
    assert "Pick one class, not 2" in two.content.decode()
    owner_client.post(f"/inference/{cls.pk}/correct/", {"classes": ["billing"]}, **HX)
    cls.refresh_from_db()
    assert cls.corrected_output["label"] == "billing" and cls.verdict == "incorrect"

    chat = chat_call(owner.project)
    empty = owner_client.post(f"/inference/{chat.pk}/correct/", {"text": "  "}, **HX)
    assert "The corrected text is empty." in empty.content.decode()
    owner_client.post(f"/inference/{chat.pk}/correct/", {"text": "Hi there!"}, **HX)
    chat.refresh_from_db()
    assert chat.corrected_output == {"output": "Hi there!"}
    assert promote.sample_payload(chat, "decoder")["response"] == "Hi there!"


def test_a_native_classification_call_is_shown_and_corrected_as_a_class(owner_client, owner):
    # The native extract answer carries every key, entities included (empty here).
    call = record(
        owner.project,
        request={
            "text": "My card was charged twice.",
            "schema": {"classifications": [{"task": "topic", "labels": ["billing", "bug"]}]},
        },
        input_text="My card was charged twice.",
        output={
            "entities": [],
            "relations": [],
            "structures": {},
            "classifications": [{"task": "topic", "label": "bug", "confidence": 0.5}],
        },
    )
    page = owner_client.get(f"/inference/{call.pk}/").content.decode()
    assert "Model&#x27;s class" in page or "Model's class" in page
    assert "with the model's entities" not in page
    editor = owner_client.get(f"/inference/{call.pk}/correct/", **HX).content.decode()
    assert 'type="radio" name="classes" value="billing"' in editor
    assert "Entities as JSON" not in editor
    owner_client.post(f"/inference/{call.pk}/correct/", {"classes": ["billing"]}, **HX)
    call.refresh_from_db()
    assert call.corrected_output["classifications"] == [{"task": "topic", "label": "billing"}]
    assert promote.sample_payload(call, "classification")["label"] == "billing"


def test_viewers_can_look_but_not_judge(viewer_client, owner):
    call = ner_call(owner.project)
    page = viewer_client.get("/inference/")
    assert page.status_code == 200 and f"inference-row-{call.pk}" in page.content.decode()
    detail = viewer_client.get(f"/inference/{call.pk}/", **HX).content.decode()
    assert 'data-key="c"' not in detail
    assert (
        viewer_client.post(f"/inference/{call.pk}/feedback/", {"verdict": "correct"}).status_code
        == 403
    )
    assert viewer_client.get(f"/inference/{call.pk}/correct/").status_code == 403
    assert viewer_client.post("/inference/promote/", {"dataset_name": "x"}).status_code == 403
    assert viewer_client.post("/inference/models/", {"alias": "a"}).status_code == 403
    call.refresh_from_db()
    assert call.verdict == ""


# --- promotion -------------------------------------------------------------------------


def test_promote_uses_correct_outputs_and_corrections_with_lineage(owner_client, owner):
    right = ner_call(
        owner.project,
        input_text="Grace Hopper visited Paris.",
        output={"entities": [{"text": "Grace Hopper", "label": "person", "start": 0, "end": 12}]},
    )
    fixed = ner_call(owner.project)
    wrong = ner_call(owner.project, input_text="Nobody fixed this one.", output={"entities": []})
    ner_call(owner.project, input_text="Never reviewed.", output={"entities": []})
    chat_call(owner.project)  # another task: outside the filter below
    client_post = owner_client.post
    client_post(f"/inference/{right.pk}/feedback/", {"verdict": "correct"}, **HX)
    client_post(
        f"/inference/{fixed.pk}/correct/",
        {"entities": json.dumps([{"text": "Ada Lovelace", "label": "person"}, LONDON])},
        **HX,
    )
    # `incorrect` without a correction: the pages always ask for one, but older rows (or
    # other clients) may hold such a verdict; it must never be promoted.
    Inference.objects.filter(pk=wrong.pk).update(verdict="incorrect")
    response = client_post("/inference/promote/", {"dataset_name": "reviewed", "task": "extract"})
    dataset = Dataset.objects.get(project=owner.project, name="reviewed")
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/{dataset.pk}/?version=1"
    assert dataset.task_type == "ner"
    samples = {s.lineage["inference_id"]: s for s in Sample.objects.filter(dataset=dataset)}
    assert set(samples) == {right.pk, fixed.pk}
    assert samples[right.pk].lineage == {
        "inference_id": right.pk,
        "model_id": "fake/fake-gpt",
        "verdict": "correct",
        "task": "extract",
        "corrected": False,
    }
    assert [e["text"] for e in samples[fixed.pk].payload["entities"]] == ["Ada Lovelace", "London"]
    assert samples[fixed.pk].labels == ["city", "person"]
    # Each promoted sample links back to the call it came from.
    page = owner_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert f'<a href="/inference/?call={fixed.pk}">call #{fixed.pk}</a> (corrected)' in page
    assert f'<a href="/inference/?call={right.pk}">call #{right.pk}</a><' in page
    # Promoting the same calls again adds nothing: the page says so, and no version 2.
    again = owner_client.post(
        "/inference/promote/", {"dataset_name": "reviewed", "task": "extract"}, follow=True
    )
    assert "Nothing new: reviewed already holds the 2 promotable calls" in again.content.decode()
    assert Dataset.objects.get(pk=dataset.pk).latest_version == 1


def test_promote_refuses_mixed_tasks_and_empty_filters(owner_client, owner):
    ner = ner_call(owner.project)
    chat = chat_call(owner.project)
    for call in (ner, chat):
        owner_client.post(f"/inference/{call.pk}/feedback/", {"verdict": "correct"}, **HX)
    mixed = owner_client.post("/inference/promote/", {"dataset_name": "mix"}, follow=True)
    assert "filter by task first" in mixed.content.decode()
    none = owner_client.post(
        "/inference/promote/", {"dataset_name": "mix", "verdict": "unreviewed"}, follow=True
    )
    assert "Nothing to promote" in none.content.decode()
    assert not Dataset.objects.filter(name="mix").exists()
    chat_only = owner_client.post("/inference/promote/", {"dataset_name": "chats", "task": "chat"})
    assert chat_only.status_code == 302
    sample = Sample.objects.get(dataset__name="chats")
    assert sample.payload == {"instruction": "Say hi", "response": "Hello!"}


def test_promote_classification(owner, owner_client):
    call = classification_call(owner.project)
    owner_client.post(f"/inference/{call.pk}/correct/", {"classes": ["billing"]}, **HX)
    version = promote.inferences_promote(
        membership=owner, dataset_name="tickets", task="label_classification"
    )
    sample = Sample.objects.get(dataset=version.dataset)
    assert version.dataset.task_type == "classification" and version.source == "promotion"
    assert sample.payload == {"text": "Where is my invoice?", "label": "billing"}
    assert sample.lineage["verdict"] == "incorrect" and sample.lineage["corrected"] is True


# --- models page -----------------------------------------------------------------------


def test_models_page_adds_and_removes_aliases(owner_client, owner):
    provider = ProviderFactory(project=owner.project, name="fake", default_model="fake-gpt")
    page = owner_client.get("/inference/models/").content.decode()
    assert "fake/" in page
    response = owner_client.post(
        "/inference/models/", {"alias": "support-ner", "provider": provider.pk, "model": "fake-gpt"}
    )
    assert response.status_code == 302
    alias = ModelAlias.objects.get(project=owner.project, alias="support-ner")
    assert "support-ner" in owner_client.get("/inference/models/").content.decode()
    duplicate = owner_client.post(
        "/inference/models/", {"alias": "support-ner", "provider": provider.pk, "model": "x"}
    )
    assert duplicate.status_code == 200 and "support-ner" in duplicate.content.decode()
    assert ModelAlias.objects.filter(alias="support-ner").count() == 1
    owner_client.post(f"/inference/models/aliases/{alias.pk}/delete/")
    assert not ModelAlias.objects.filter(pk=alias.pk).exists()


@pytest.mark.usefixtures("allow_loopback")
def test_an_alias_to_a_model_the_provider_does_not_list_is_refused_inline(
    owner_client, owner, fake_openai
):
    provider = ProviderFactory(project=owner.project, name="vllm", base_url=fake_openai.base_url)
    response = owner_client.post(
        "/inference/models/", {"alias": "support", "provider": provider.pk, "model": "fake-gtp"}
    )
    assert response.status_code == 200
    assert (
        "Provider vllm does not serve &#x27;fake-gtp&#x27;; it lists: fake-gpt, fake-gpt-mini."
        in response.content.decode()
    )
    assert not ModelAlias.objects.exists()
