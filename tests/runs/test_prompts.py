"""What a generation call asks for: shots, shuffling, exploration and the text guidance."""

import itertools
import json

import pytest

from apps.runs.engines import prompts
from apps.runs.models import ExplorationMode, SeedShuffling
from apps.specs.task_types import SpecContent
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, created_run, drive

SEEDS = tuple({"text": f"Ticket number {i}.", "label": CLASS_LABELS[i % 3]} for i in range(8))


def settings(**changes) -> prompts.PromptSettings:
    values = {
        "description": "Support tickets of a SaaS company",
        "instruction": "",
        "requirements": ("One or two sentences", "No personal data"),
        "content": SpecContent(task_type="classification", labels=tuple(CLASS_LABELS), seeds=SEEDS),
        "batch_size": 5,
        "num_shots": 3,
        "max_examples_in_prompt": 10,
        "seed_shuffling": SeedShuffling.SAMPLE,
        "exploration_mode": ExplorationMode.BALANCED,
        "random_seed": 7,
    }
    return prompts.PromptSettings(**{**values, **changes})


def prompt(plan: prompts.CallPlan) -> str:
    return plan.messages[-1]["content"]


def shown(plan: prompts.CallPlan) -> list[dict]:
    """The seed examples a prompt shows, in order."""
    text = prompt(plan)
    if "Examples (do not copy them):\n" not in text:
        return []
    block = text.split("Examples (do not copy them):\n", 1)[1].split("\n\n", 1)[0]
    return [json.loads(line) for line in block.splitlines()]


def test_num_shots_seeds_are_shown_and_max_examples_caps_them():
    assert len(shown(prompts.build_call(settings(num_shots=3), 0))) == 3
    assert len(shown(prompts.build_call(settings(num_shots=5, max_examples_in_prompt=2), 0))) == 2
    assert shown(prompts.build_call(settings(num_shots=0), 0)) == []


def test_seed_shuffling_none_shows_the_first_seeds_in_every_call():
    plans = [prompts.build_call(settings(seed_shuffling=SeedShuffling.NONE), i) for i in range(5)]
    assert all(shown(plan) == list(SEEDS[:3]) for plan in plans)


def test_seed_shuffling_sample_varies_by_call_and_a_rebuilt_call_asks_the_same():
    plans = [prompts.build_call(settings(), i) for i in range(6)]
    assert len({json.dumps(shown(plan)) for plan in plans}) > 1
    assert all(shot in SEEDS for plan in plans for shot in shown(plan))
    assert prompts.build_call(settings(), 3).messages == plans[3].messages  # after a crash
    other_seed = prompts.build_call(settings(random_seed=8), 3)
    assert shown(other_seed) != shown(plans[3])


def test_seed_shuffling_field_recombines_fields_of_decoder_seeds():
    seeds = tuple(
        {"instruction": f"instruction {i}", "input": f"input {i}", "response": f"response {i}"}
        for i in range(6)
    )
    content = SpecContent(task_type="decoder", seeds=seeds)
    plans = [
        prompts.build_call(settings(content=content, seed_shuffling=SeedShuffling.FIELD), i)
        for i in range(6)
    ]
    shots = [shot for plan in plans for shot in shown(plan)]
    assert all(set(shot) == {"instruction", "input", "response"} for shot in shots)
    # Some shot takes its fields from different seeds: a new combination, not a seed.
    assert any(shot not in seeds for shot in shots)


def test_seed_shuffling_prompt_reorders_the_requirements():
    requirements = tuple(f"requirement {i}" for i in range(6))
    orders = {
        prompt(prompts.build_call(settings(requirements=requirements, seed_shuffling="prompt"), i))
        .split("requirements:\n", 1)[1]
        .split("\n\n", 1)[0]
        for i in range(6)
    }
    assert len(orders) > 1


def test_without_seeds_the_prompt_asks_for_complete_texts_not_topics():
    """Small models answer bare topics ("Billing") when nothing says what a text is."""
    bare = settings(content=SpecContent(task_type="classification", labels=("billing", "bug")))
    text = prompt(prompts.build_call(bare, 0))
    assert "complete and specific" in text and "never just a topic or a label name" in text
    assert "typical cases" in text and "examples" not in text.lower()
    with_seeds = prompt(prompts.build_call(settings(), 0))
    assert "keeping the spirit of the examples" in with_seeds


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
@pytest.mark.parametrize("mode", list(ExplorationMode))
def test_exploration_mode_sets_the_documented_sampling_on_the_wire(setup, fake_openai, mode):
    fake_openai.responder = responders.classification(CLASS_LABELS)
    run = created_run(setup, 10)
    run.settings["exploration_mode"] = mode
    run.save(update_fields=["settings"])
    drive(run)
    calls = [entry for entry in fake_openai.requests if entry["path"].endswith("/completions")]
    bodies = [entry["json"] for entry in calls]
    assert bodies
    expected = prompts.EXPLORATION[mode]
    assert {(b["temperature"], b["top_p"]) for b in bodies} == {
        (expected["temperature"], expected["top_p"])
    }


def _label_enum(body: dict) -> list[str]:
    schema = body["response_format"]["json_schema"]["schema"]
    item = schema["properties"]["samples"]["items"]
    assert list(item["properties"]) == ["label", "text"]  # the label is chosen first
    return item["properties"]["label"]["enum"]


def first_allowed_label(data: dict) -> str:
    """A model bound by structured output that always picks the first label it may."""
    label = _label_enum(data)[0]
    return json.dumps(
        {"samples": [{"label": label, "text": f"Case {next(CASES)}."} for _ in range(5)]}
    )


CASES = itertools.count()


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_a_model_that_always_takes_the_first_allowed_label_still_gives_a_balanced_run(
    setup, fake_openai
):
    """Balancing narrows the schema's labels to those still short of their share, so a
    model bound by structured output cannot keep writing the label it likes best."""
    fake_openai.responder = first_allowed_label
    run = drive(created_run(setup, 30, concurrency=1))
    assert run.accepted == 30
    assert run.label_counts == {"billing": 10, "bug": 10, "feature_request": 10}
    enums = [_label_enum(entry["json"]) for entry in fake_openai.requests]
    assert enums == [["billing"], ["bug"], ["feature_request"]] * 2
    prompts_sent = [entry["json"]["messages"][-1]["content"] for entry in fake_openai.requests]
    assert "Labels still needed in this dataset: bug." in prompts_sent[1]


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_calls_that_start_together_ask_for_different_labels(setup, fake_openai):
    """The labels asked of the calls in flight count as asked: three calls that start at
    once ask for one label each, not all three for the same."""
    fake_openai.responder = first_allowed_label
    fake_openai.script(latency=0.2)
    run = drive(created_run(setup, 15, concurrency=4))
    assert run.calls == 3
    assert run.label_counts == {"billing": 5, "bug": 5, "feature_request": 5}
    enums = sorted(_label_enum(entry["json"]) for entry in fake_openai.requests)
    assert enums == [["billing"], ["bug"], ["feature_request"]]


def test_a_call_asks_for_as_many_lacking_labels_as_fill_its_batch():
    labels = ("a", "b", "c", "d")
    # Equal shares of 10: "d" lacks 10, "c" 6, "b" 2, "a" nothing.
    counts = {"a": 10, "b": 8, "c": 4, "d": 0}
    assert prompts.wanted_labels(labels, counts, 40, batch_size=5) == ["d"]
    assert prompts.wanted_labels(labels, counts, 40, batch_size=12) == ["d", "c"]
    assert prompts.wanted_labels(labels, counts, 40, batch_size=30) == ["d", "c", "b"]
    assert prompts.wanted_labels(labels, {label: 10 for label in labels}, 40, 5) == []


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            '{"samples": [{"text": "a\nb"}]}',
            "not JSON: Invalid control character at line 1, column 25",
        ),
        ('{"samples": [', "not JSON: Expecting value at line 1, column 14"),
    ],
)
def test_an_unreadable_answer_is_one_reject_saying_where_it_breaks(answer, detail):
    from apps.runs.engines.stages import parse_answer

    [candidate] = parse_answer(answer, call_index=0, original=None)
    assert (candidate.reason, candidate.detail) == ("unparseable", detail)
    assert candidate.payload == answer


def test_seeds_in_a_prompt_stop_at_about_10k_tokens():
    long_seeds = tuple({"text": f"{i} " + "word " * 3000, "label": "bug"} for i in range(10))
    content = SpecContent(task_type="classification", labels=("bug",), seeds=long_seeds)
    plan = prompts.build_call(settings(content=content, num_shots=10, max_examples_in_prompt=10), 0)
    shown_seeds = shown(plan)
    assert 1 <= len(shown_seeds) < 10  # 15,000 characters each: only two fit in 40,000
    assert len(prompt(plan)) < 50_000
