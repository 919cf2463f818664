"""The quality pipeline: outlines, judge and revisions, gates that regenerate, tools,
thinking, models per role, usage per stage, lineage — against a fake model that plants
violations (pipeline_model.py)."""

import re

import pytest
from django.core.exceptions import ValidationError

from apps.core.models import ModelPrice
from apps.datasets.minhash import text_bands
from apps.datasets.models import Sample, SampleBand
from apps.runs import services
from apps.runs.engines.prompts import PromptSettings, build_call
from apps.runs.models import RejectedSample, RunStatus
from apps.specs.models import TaskType
from apps.specs.task_types import SpecContent
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory, drive, step
from tests.runs.pipeline_model import KINDS, PipelineModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def _run(setup, num_samples, **options):
    membership, provider, version = setup
    options = {"batch_size": 5, "concurrency": 4, **options}
    return services.run_create(
        membership=membership,
        spec_version=version,
        provider=provider,
        num_samples=num_samples,
        **options,
    )


def _admitted(run, model: PipelineModel) -> dict[str, str]:
    texts = Sample.objects.filter(run=run).values_list("text", flat=True)
    return {text: model.planted[text] for text in texts if text in model.planted}


def test_the_conformance_gate_admits_no_planted_violation_and_still_reaches_the_count(
    setup, fake_openai
):
    model = PipelineModel(CLASS_LABELS, plant_rate=0.4, seeds=setup[2].seeds, revisions_fix=False)
    fake_openai.responder = model
    run = drive(_run(setup, 60, filtering_types=["conformance"], revision_types=["conformance"]))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Sample.objects.filter(run=run).count() == 60
    assert run.call_budget == 6 * 12  # gated: 6 x the ideal 60 / 5 draft calls
    assert set(model.planted.values()) == set(KINDS)  # every kind was tried...
    assert _admitted(run, model) == {}  # ...and none got in
    reasons = run.rejected_by_reason
    assert reasons.get("conformance", 0) > 0  # wrong labels, broken requirements
    assert reasons.get("echo", 0) > 0  # label echoes and seed copies, before any judge
    # Each regenerated candidate keeps its trail: draft, judge, the revision, the judge
    # of the revision (never an unjudged rewrite), then regenerate.
    reject = RejectedSample.objects.filter(run=run, reason="conformance").first()
    steps = [step["step"] for step in reject.lineage["trail"]]
    assert steps == ["draft", "judge", "revision", "judge", "regenerate"]


def test_with_gates_off_the_deterministic_checks_still_catch_echoes_copies_and_near_duplicates(
    setup, fake_openai
):
    model = PipelineModel(
        CLASS_LABELS,
        plant_rate=0.4,
        kinds=("echo", "seed_copy", "near_duplicate"),
        seeds=setup[2].seeds,
    )
    fake_openai.responder = model
    run = drive(_run(setup, 50))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(model.planted.values()) == {"echo", "seed_copy", "near_duplicate"}
    assert _admitted(run, model) == {}
    assert model.calls["judge"] == 0  # no model judged anything
    assert run.rejected_by_reason.get("near_duplicate", 0) > 0
    near = RejectedSample.objects.filter(run=run, reason="near_duplicate").first()
    assert re.match(r"near-duplicate of (sample \d+|another sample in this batch)", near.detail)
    # Every accepted sample is banded for later checks, with the keys of its own text.
    for sample in Sample.objects.filter(run=run):
        keys = set(SampleBand.objects.filter(sample=sample).values_list("band", flat=True))
        assert keys == set(text_bands([sample.text])[0]), sample.text


def test_revisions_fix_samples_and_the_rewrite_is_judged_again(setup, fake_openai):
    model = PipelineModel(CLASS_LABELS, judge_fail_rate=0.3, seed=3)
    fake_openai.responder = model
    run = drive(
        _run(setup, 30, revision_types=["conformance", "coherence_flow"], max_revision_cycles=2)
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    revised = [
        s
        for s in Sample.objects.filter(run=run)
        if any(t["step"] == "revision" for t in s.lineage["trail"])
    ]
    assert revised, "the judge failed 30% of drafts: some samples must have been revised"
    for sample in revised:
        trail = sample.lineage["trail"]
        assert trail[-1]["step"] == "judge" and trail[-2]["step"] == "revision"
        # It passed, or both cycles are spent: without a gate, a rewrite the judge still
        # fails is kept, judged (the judge fails 30 % of every text it has not seen).
        cycles = sum(1 for t in trail if t["step"] == "revision")
        assert all(v["pass"] for v in trail[-1]["verdicts"].values()) or cycles == 2
        assert sample.text.startswith("Revised")
    usage = run.usage_by_stage
    revisions = sum(
        1
        for lineage in [
            *Sample.objects.filter(run=run).values_list("lineage", flat=True),
            *RejectedSample.objects.filter(run=run).values_list("lineage", flat=True),
        ]
        for step in lineage.get("trail", [])
        if step["step"] == "revision"
    )
    assert usage["judge"]["calls"] > 0 and usage["revision"]["calls"] == revisions
    assert usage["draft"]["calls"] == run.calls


def test_outline_and_topic_plan_precede_the_drafts_and_stay_in_lineage(setup, fake_openai):
    model = PipelineModel(CLASS_LABELS)
    fake_openai.responder = model
    run = drive(_run(setup, 20, skip_outline=False))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert model.calls["plan"] == 1 and model.calls["outline"] == run.calls
    run.refresh_from_db()
    assert len(run.state["topics"]) == 30
    drafts = [r["json"] for r in fake_openai.requests if "Follow this plan" in str(r["json"])]
    assert len(drafts) == run.calls
    assert any("topic " in str(d["messages"][-1]["content"]) for d in drafts)
    sample = Sample.objects.filter(run=run).first()
    assert [t["step"] for t in sample.lineage["trail"]] == ["outline", "draft"]
    assert set(run.usage_by_stage) == {"plan", "outline", "draft"}


def test_models_per_role_and_thinking_go_where_they_are_asked(setup, fake_openai):
    provider = setup[1]
    provider.thinking = "reasoning_effort"
    provider.save()
    model = PipelineModel(CLASS_LABELS, judge_fail_rate=0.2, thinking="I weighed it.")
    fake_openai.responder = model
    run = drive(
        _run(
            setup,
            10,
            revision_model=f"{provider.name}/fake-gpt-mini",
            revision_types=["conformance"],
            generation_thinking_budget=2048,
        )
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert model.models["judge"] == {"fake-gpt-mini"}
    assert model.models["draft"] == {run.model}
    chats = [r["json"] for r in fake_openai.requests if r["path"].endswith("/chat/completions")]
    drafts = [body for body in chats if body["model"] == run.model]
    assert drafts and all(d.get("reasoning_effort") == "low" for d in drafts)
    others = [body for body in chats if body["model"] != run.model]
    assert others and not any("reasoning_effort" in d for d in others)
    sample = Sample.objects.filter(run=run).first()
    draft = next(t for t in sample.lineage["trail"] if t["step"] == "draft")
    assert draft["thinking"] == "I weighed it."
    assert "weighed" not in str(sample.payload)  # thinking stays out of the data


def test_a_thinking_budget_or_tools_the_provider_cannot_take_are_refused_naming_the_field(setup):
    provider = setup[1]
    provider.thinking, provider.supports_tools = "none", False
    provider.save()
    with pytest.raises(ValidationError) as info:
        _run(setup, 10, outline_thinking_budget=2048, tools=["calculator"])
    errors = info.value.message_dict
    assert "has no thinking option" in errors["outline_thinking_budget"][0]
    assert f"Provider {provider.name} cannot call tools" in errors["tools"][0]
    with pytest.raises(ValidationError) as info:
        _run(setup, 10, generation_thinking_budget=512)
    assert "1,024 to 64,000" in info.value.message_dict["generation_thinking_budget"][0]


def test_the_calculator_tool_is_called_and_its_turns_kept_in_lineage(setup, fake_openai):
    provider = setup[1]
    provider.supports_tools = True
    provider.save()
    model = PipelineModel(CLASS_LABELS, tool_turns=1)
    fake_openai.responder = model
    run = drive(_run(setup, 10, tools=["calculator"]))
    assert run.status == RunStatus.SUCCEEDED, run.error
    sample = Sample.objects.filter(run=run).first()
    tool = next(t for t in sample.lineage["trail"] if t["step"] == "tool")
    assert (tool["tool"], tool["result"]) == ("calculator", "42")
    followups = [
        r["json"]
        for r in fake_openai.requests
        if any(m.get("role") == "tool" for m in r["json"]["messages"])
    ]
    assert followups and followups[0]["messages"][-1]["content"] == "42"


def test_usage_and_cost_per_stage_are_recorded_and_priced_only_with_a_price(setup, fake_openai):
    provider = setup[1]
    fake_openai.responder = PipelineModel(CLASS_LABELS, judge_fail_rate=0.2)
    run = drive(_run(setup, 10, revision_types=["conformance"]))
    usage = run.usage_by_stage
    assert usage["draft"]["cost"] is None  # no price set: unknown, never 0
    assert usage["draft"]["input_tokens"] > 0 and usage["judge"]["calls"] > 0
    ModelPrice.objects.create(
        provider=provider, model=run.model, input_per_million=3, output_per_million=15
    )
    priced = drive(_run(setup, 10, revision_types=["conformance"]))
    for stage in ("draft", "judge"):
        entry = priced.usage_by_stage[stage]
        expected = (entry["input_tokens"] * 3 + entry["output_tokens"] * 15) / 1_000_000
        assert float(entry["cost"]) == pytest.approx(expected)


def test_prompts_differ_from_call_to_call_even_one_sample_at_a_time():
    prompt = PromptSettings(
        description="Support tickets",
        instruction="",
        requirements=("One or two sentences",),
        content=SpecContent(task_type="classification", labels=("bug", "billing")),
        batch_size=1,
        num_shots=0,
        max_examples_in_prompt=0,
        seed_shuffling="none",
        exploration_mode="BALANCED",
        random_seed=0,
    )
    prompts = [build_call(prompt, i).messages[-1]["content"] for i in range(1000)]
    assert len(set(prompts)) >= 900
    assert build_call(prompt, 7).messages == build_call(prompt, 7).messages  # after a crash


def test_unified_multifield_off_writes_one_field_per_call_each_seeing_the_ones_before(
    setup, fake_openai
):
    membership, provider, _ = setup
    version = SpecVersionFactory(
        spec__project=membership.project,
        spec__task_type=TaskType.DECODER,
        labels=[],
        requirements=[],
        seeds=[{"instruction": "Summarise the ticket.", "response": "A short summary."}],
    )
    fake_openai.responder = responders.custom()
    run = drive(
        services.run_create(
            membership=membership,
            spec_version=version,
            provider=provider,
            num_samples=6,
            batch_size=3,
            concurrency=1,
            unified_multifield=False,
        )
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    chats = [r["json"] for r in fake_openai.requests if r["path"].endswith("/chat/completions")]
    assert len(chats) == 3 * run.calls  # instruction, input, response
    fields = [
        list(
            body["response_format"]["json_schema"]["schema"]["properties"]["samples"]["items"][
                "properties"
            ]
        )
        for body in chats[:3]
    ]
    assert fields == [["instruction"], ["input"], ["response"]]
    asked_for_response = chats[2]["messages"][-1]["content"]
    assert "instruction number" in asked_for_response  # it sees what was written
    sample = Sample.objects.filter(run=run).first()
    assert set(sample.payload) == {"instruction", "input", "response"}
    assert sample.lineage["trail"][-1]["by_field"] == ["instruction", "input", "response"]


def test_a_step_abandons_a_chain_longer_than_its_limit_and_the_run_still_ends_exact(
    setup, fake_openai, settings
):
    fake_openai.responder = PipelineModel(CLASS_LABELS, judge_fail_rate=1.0)
    fake_openai.script(latency=0.4)
    settings.RUN_STEP_MAX_SECONDS = 1.0  # draft, judge, revision, judge: 1.6 s
    run = _run(setup, 10, revision_types=["conformance"], concurrency=2)
    assert step(run, 0).kind == "continue"  # not stuck, not failed: it goes on
    run.refresh_from_db()
    assert run.accepted == 0 and run.status == RunStatus.RUNNING
    assert run.usage_by_stage["judge"]["calls"] > 0  # the abandoned work is counted
    settings.RUN_STEP_MAX_SECONDS = 600.0
    run = drive(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Sample.objects.filter(run=run).count() == 10
