"""Lineage trails as the engine writes them (apps/runs/engines/drafting.py, judging.py,
commit.py), with model-written text the pages must escape."""

from typing import Any

EVIL = "<script>alert(1)</script>"


def full_trail(evil: str = EVIL) -> list[dict[str, Any]]:
    """One of every step kind, in the order the pipeline writes them."""
    return [
        {
            "step": "outline",
            "model": "fake/outliner",
            "outline": [
                {
                    "situation": f"A customer double-charged {evil}",
                    "points": ["mentions the invoice", "asks for a refund"],
                    "label": "billing",
                }
            ],
            "thinking": "Plan the situations first.",
        },
        {
            "step": "tool",
            "tool": "calculator",
            "arguments": {"expression": "19.99 * 2"},
            "result": "39.98",
        },
        {
            "step": "draft",
            "model": "fake/drafter",
            "finish_reason": "stop",
            "by_field": ["text", "label"],
            "thinking": f"Secret reasoning {evil}",
        },
        {
            "step": "judge",
            "cycle": 0,
            "model": "fake/judge",
            "verdicts": {
                "label": {"pass": True, "reason": "billing fits"},
                "requirements": {"pass": False, "reason": f"too long {evil}"},
            },
        },
        {
            "step": "revision",
            "cycle": 0,
            "model": "fake/judge",
            "fixes": ["requirements"],
            "payload": {"text": "I was charged twice. Refund please.", "label": "billing"},
        },
        {"step": "judge", "cycle": 1, "model": "fake/judge", "verdicts": None},
        {"step": "regenerate", "reason": "not_judged", "feedback": "the judge gave no verdict"},
    ]


def run_lineage(run: Any, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "spec_version_id": run.spec_version_id,
        "provider": run.provider.name if run.provider else None,
        "model": run.model,
        "call": 3,
        "trail": full_trail(),
        **extra,
    }
