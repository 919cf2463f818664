"""Responders for the fake OpenAI server that answer generation prompts like a model would.

They read the batch size from the request's JSON schema and write samples that are valid
for the spec, unless told to spoil some: a share of bad spans, unknown labels and repeats.
"""

import itertools
import json
import random
import threading
from typing import Any

_counter = itertools.count()
_lock = threading.Lock()


def _schema(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema the request asks the answer to follow (either dialect)."""
    fmt = data.get("response_format") or {}
    return fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema") or {}


def _batch_size(data: dict[str, Any]) -> int:
    return int(_schema(data).get("properties", {}).get("samples", {}).get("minItems", 1))


def _next() -> int:
    with _lock:
        return next(_counter)


def classification(labels: list[str], *, invalid_rate: float = 0.0, seed: int = 0):
    rng = random.Random(seed)

    def respond(data: dict[str, Any]) -> str:
        samples = []
        for _ in range(_batch_size(data)):
            n = _next()
            label = labels[n % len(labels)]
            roll = rng.random()
            if roll < invalid_rate / 3:
                samples.append({"text": f"Ticket {n} with an odd label", "label": "no-such-label"})
            elif roll < 2 * invalid_rate / 3:
                samples.append({"text": "A ticket everyone writes", "label": label})  # repeat
            elif roll < invalid_rate:
                samples.append({"txt": f"Ticket {n} missing its text field"})
            else:
                samples.append({"text": f"Ticket number {n} about {label}.", "label": label})
        return json.dumps({"samples": samples})

    return respond


def ner(labels: list[str], *, invalid_rate: float = 0.0, seed: int = 0):
    rng = random.Random(seed)

    def respond(data: dict[str, Any]) -> str:
        samples = []
        for _ in range(_batch_size(data)):
            n = _next()
            name, city = f"Alice{n}", f"Paris{n}"
            text = f"{name} moved to {city} last spring."
            entities = [{"text": name, "label": labels[0]}, {"text": city, "label": labels[1]}]
            roll = rng.random()
            if roll < invalid_rate / 3:
                entities.append({"text": "Atlantis", "label": labels[1]})  # not in the text
            elif roll < 2 * invalid_rate / 3:
                entities[0]["label"] = "UNKNOWN"
            elif roll < invalid_rate:
                text, entities = (
                    "Bob moved to Rome last spring.",
                    [{"text": "Bob", "label": labels[0]}],
                )  # the same sample again and again
            samples.append({"text": text, "entities": entities})
        return json.dumps({"samples": samples})

    return respond


# For the fake server started as a process (`--responder module:name`).
classification_default = classification(["billing", "bug", "feature_request"])


def custom():
    """Samples with a distinct string in every property, written in the schema's order (as
    a model under structured output writes them)."""

    def respond(data: dict[str, Any]) -> str:
        item = _schema(data)["properties"]["samples"]["items"]
        samples = []
        for _ in range(_batch_size(data)):
            n = _next()
            samples.append({name: f"{name} number {n}" for name in item["properties"]})
        return json.dumps({"samples": samples})

    return respond
