"""A fake model for fan-outs: it reads the example a call varies from the prompt and
writes the batch as variations of it: the same keys and structure, every text new (the
engine rejects near-copies of a seed and near-duplicates of each other)."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from typing import Any

from tests.runs.responders import _batch_size

MARKER = "keeping its structure:\n"
_counter = itertools.count()
_lock = threading.Lock()


def _varied(value: Any, n: int) -> Any:
    if isinstance(value, str):
        return f"Variation {n}: {secrets.token_hex(20)} {secrets.token_hex(20)}"
    if isinstance(value, list):
        return [_varied(item, n) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "role" else _varied(item, n) for key, item in value.items()}
    return value


def variations(data: dict[str, Any]) -> str:
    prompt = data["messages"][-1]["content"]
    original = json.loads(prompt.split(MARKER, 1)[1].split("\n", 1)[0])
    with _lock:
        numbers = [next(_counter) for _ in range(_batch_size(data))]
    return json.dumps({"samples": [_varied(original, n) for n in numbers]})
