"""A fake model for every role of the quality pipeline, for the fake OpenAI server.

It answers by the request's system prompt: topic plans, outlines, drafts, judgements and
revisions (apps/runs/engines/planning.py, drafting.py, judging.py write those prompts).
Drafts are classification tickets. As an adversary it plants violations in a share of the
drafts and remembers each planted text with its kind, so that a test can check that none
reached the dataset:

* `echo`: a label name in another spelling ("Feature request" for feature_request);
* `wrong_label`: a clear ticket about one label, labelled with another;
* `broken_requirement`: five sentences where the spec asks for one or two;
* `near_duplicate`: an earlier clean ticket with its last word changed;
* `seed_copy`: a seed example, word for word up to its case.

Its judge knows what was planted: the conformance check fails for planted texts (and, with
`judge_fail_rate`, for that share of clean ones), every other check passes. Its reviser
rewrites a sample into a clean ticket with the right label, or hands it back unchanged when
`revisions_fix` is False.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from typing import Any

from tests.fakes.base import Reply, tool_results

VOCABULARY = (
    "account invoice export dashboard login password refund upgrade plan report chart "
    "team invite email server outage latency mobile app browser download upload file "
    "setting profile search filter sync calendar integration webhook token limit quota "
    "payment card receipt discount trial seat admin role permission theme language"
)
WORDS = VOCABULARY.split()
ECHOES = {
    "billing": ["Billing", "BILLING!"],
    "bug": ["Bug.", "bug"],
    "feature_request": ["Feature request", "feature-request", "FEATURE_REQUEST", "featureRequest"],
}
WRONG = {"billing": "bug", "bug": "feature_request", "feature_request": "billing"}
TOPICS = [f"topic {n}: {' '.join(WORDS[n : n + 3])}" for n in range(30)]
KINDS = ("echo", "wrong_label", "broken_requirement", "near_duplicate", "seed_copy")


def _role(data: dict[str, Any]) -> str:
    system = str((data.get("messages") or [{}])[0].get("content", ""))
    if "You plan varied training data" in system:
        return "plan"
    if "You plan training data samples" in system:
        return "outline"
    if "strict reviewer" in system:
        return "judge"
    if "You revise training data" in system:
        return "revision"
    return "draft"


def _schema(data: dict[str, Any]) -> dict[str, Any]:
    fmt = data.get("response_format") or {}
    return fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema") or {}


class PipelineModel:
    def __init__(
        self,
        labels: list[str],
        *,
        plant_rate: float = 0.0,
        kinds: tuple[str, ...] = KINDS,
        judge_fail_rate: float = 0.0,
        revisions_fix: bool = True,
        seeds: list[dict[str, Any]] | None = None,
        tool_turns: int = 0,
        thinking: str = "",
        seed: int = 0,
    ) -> None:
        self.labels = labels
        self.plant_rate = plant_rate
        self.kinds = kinds
        self.judge_fail_rate = judge_fail_rate
        self.revisions_fix = revisions_fix
        self.seeds = seeds or []
        self.tool_turns = tool_turns
        self.thinking = thinking
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counter = 0
        self.planted: dict[str, str] = {}  # text → kind
        self.failed_by_judge: set[str] = set()  # clean texts the judge was told to fail
        self.clean: list[str] = []
        self.calls: Counter[str] = Counter()
        self.models: dict[str, set[str]] = {}  # role → models asked

    def __call__(self, data: dict[str, Any]) -> str | Reply:
        role = _role(data)
        with self.lock:
            self.calls[role] += 1
            self.models.setdefault(role, set()).add(str(data.get("model")))
        answer: str | Reply = getattr(self, f"_{role}")(data)
        if self.thinking and isinstance(answer, str):
            return Reply(answer, thinking=self.thinking)
        return answer

    # --- roles -----------------------------------------------------------------------

    def _plan(self, data: dict[str, Any]) -> str:
        return json.dumps({"topics": TOPICS})

    def _outline(self, data: dict[str, Any]) -> str:
        asked = re.search(r"Plan (\d+) of them", data["messages"][-1]["content"])
        size = int(asked.group(1)) if asked else 1
        outlines = [
            {"situation": f"case {i}", "points": ["what happened"], "label": self.labels[0]}
            for i in range(size)
        ]
        return json.dumps({"outlines": outlines})

    def _draft(self, data: dict[str, Any]) -> str | Reply:
        if self.tool_turns and data.get("tools") and len(tool_results(data)) < self.tool_turns:
            return Reply(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}])
        samples = _schema(data).get("properties", {}).get("samples", {})
        size = int(samples.get("minItems", 1))
        return json.dumps({"samples": [self._sample() for _ in range(size)]})

    def _judge(self, data: dict[str, Any]) -> str:
        content = data["messages"][-1]["content"]
        schema = _schema(data)["properties"]
        verdicts = {}
        for line in content.split("\n"):
            found = re.match(r"(sample_\d+): (.*)$", line)
            if not found or found.group(1) not in schema:
                continue
            checks = schema[found.group(1)]["required"]
            text = str(json.loads(found.group(2)).get("text", ""))
            with self.lock:
                planted = self.planted.get(text)
                fresh = planted is None and text not in self.failed_by_judge
                if fresh and self.rng.random() < self.judge_fail_rate:
                    self.failed_by_judge.add(text)
                failing = planted is not None or text in self.failed_by_judge
            verdicts[found.group(1)] = {
                check: {
                    "reason": f"planted {planted or 'failure'}"
                    if failing and check == "conformance"
                    else "fine",
                    "pass": not (failing and check == "conformance"),
                }
                for check in checks
            }
        return json.dumps(verdicts)

    def _revision(self, data: dict[str, Any]) -> str:
        content = data["messages"][-1]["content"]
        sample = json.loads(content.split("Sample:\n", 1)[1].split("\n\nProblems:", 1)[0])
        if not self.revisions_fix:
            return json.dumps({"sample": sample})
        with self.lock:
            self.counter += 1
            n = self.counter
        label = self.labels[n % len(self.labels)]
        text = self._clean_text(n, label, prefix="Revised")
        return json.dumps({"sample": {"text": text, "label": label}})

    # --- drafts ----------------------------------------------------------------------

    def _clean_text(self, n: int, label: str, prefix: str = "Ticket") -> str:
        rng = random.Random(f"clean:{n}")
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        return f"{prefix} {n} about {label}: the {words} needs attention today."

    def _sample(self) -> dict[str, Any]:
        with self.lock:
            self.counter += 1
            n = self.counter
            label = self.labels[n % len(self.labels)]
            if self.rng.random() >= self.plant_rate:
                text = self._clean_text(n, label)
                self.clean.append(text)
                return {"text": text, "label": label}
            kind = self.kinds[n % len(self.kinds)]
            if kind == "near_duplicate" and not self.clean:
                kind = "echo"
            if kind == "seed_copy" and not self.seeds:
                kind = "echo"
            if kind == "echo":
                label = self.labels[n % len(self.labels)]
                spellings = ECHOES.get(label, [label.replace("_", " ").title()])
                text = spellings[n % len(spellings)]
            elif kind == "wrong_label":
                text = self._clean_text(n, label, prefix="Clearly")
                label = WRONG.get(label, label)
            elif kind == "broken_requirement":
                text = " ".join(f"Sentence {i} of ticket {n} about {label}." for i in range(5))
            elif kind == "near_duplicate":
                words = self.clean[-1].split()
                text = " ".join([*words[:-1], f"tomorrow{n}."])
            else:
                seed = self.seeds[n % len(self.seeds)]
                text, label = str(seed["text"]).upper(), seed["label"]
            self.planted[text] = kind
            return {"text": text, "label": label}
