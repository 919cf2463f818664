"""What Seedbed accepts from outside and what it can store: one policy for every boundary.

PostgreSQL cannot store a NUL character in text or JSONB, nor a lone UTF-16 surrogate
(it is not UTF-8), and JSON's NaN/Infinity are not JSON at all (JSONB refuses them). A
value that reaches the database with one of them fails the whole write, long after the
request was accepted. So:

* **input** (request bodies, uploaded rows, query parameters) holding one is refused
  with a 400 naming the field, before anything is stored or any model is called;
* **model output** is not the caller's fault and must not be lost: `storable` replaces
  such characters with U+FFFD where model text enters storage.

JSON from outside is also bounded: at most `MAX_JSON_DEPTH` levels of nesting (Python's
parser raises RecursionError near 1,000, and deep values cost seconds of CPU in every
later walk over them), and one stored payload (a sample, a seed, a correction) at most
`MAX_PAYLOAD_BYTES` once serialized.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

MAX_JSON_DEPTH = 64
MAX_PAYLOAD_BYTES = 1024 * 1024
# PostgreSQL's bigint: ids, offsets and counts beyond it overflow in the query.
MAX_BIGINT = 2**63 - 1

# NUL, and surrogates: in a str from json.loads("\ud800") they can only be lone ones.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NOT_STORABLE_WHY = "contains a NUL character or an invalid (lone surrogate) code point"


class InputError(ValueError):
    """Input Seedbed refuses: a 400 naming `field` (None: the request as a whole)."""

    def __init__(self, message: str, field: str | None = None, *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # The message without its subject, for callers that name the place themselves
        # ("Line 3: " + reason).
        self.reason = reason or message

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field or "detail": [self.message]}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_storable(value: Any, field: str = "", *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """InputError naming the first place in `value` (nested lists and dicts) that is too
    deep, not a finite number, or holds text PostgreSQL cannot store."""
    stack: list[tuple[Any, str, int]] = [(value, field, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise InputError(f"{path or 'The value'} {_NOT_STORABLE_WHY}.", path or None)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InputError(f"{path or 'The value'} must be a finite number.", path or None)
        elif isinstance(item, list | tuple | dict):
            if depth > max_depth:
                # Named by where it starts: the full path would be max_depth steps long.
                top = _top(path, field)
                raise InputError(_too_deep(top, max_depth), top or None)
            if isinstance(item, dict):
                for key, child in item.items():
                    where = _join(path, str(key))
                    if isinstance(key, str) and _UNSTORABLE.search(key):
                        raise InputError(f"A key in {path or 'the value'} {_NOT_STORABLE_WHY}.",
                                         path or None)  # fmt: skip
                    stack.append((child, where, depth + 1))
            else:
                stack.extend((child, _join(path, n), depth + 1) for n, child in enumerate(item))


class _NotFinite(ValueError):
    pass


def _top(path: str, field: str) -> str:
    """`field`'s first key in `path` (`payload.x[0].y` → `payload.x` for field `payload`)."""
    rest = path[len(field) :].lstrip(".")
    first = re.match(r"\[\d+\]|[^.\[]*", rest)
    step = first.group(0) if first else ""
    if not field:
        return step
    return f"{field}{step}" if step.startswith("[") else f"{field}.{step}" if step else field


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a JSON number (numbers must be finite)")


def parse_json(raw: bytes | str, field: str = "") -> Any:
    """`json.loads` for input from outside: InputError (naming `field`) for invalid JSON,
    NaN/Infinity, nesting deeper than MAX_JSON_DEPTH, or text PostgreSQL cannot store."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError(_too_deep(field), field or None) from None
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        raise _not_json(field, reason) from None
    except _NotFinite as exc:
        raise _not_json(field, f"not valid JSON: {exc}.") from None
    except ValueError:  # bytes that are not UTF-8 (or -16/-32)
        raise _not_json(field, "not valid JSON: it is not UTF-8 text.") from None
    check_storable(value, field)
    return value


def _not_json(field: str, reason: str) -> InputError:
    # The whole body's syntax error reads as it always has (the SDKs' users know it).
    message = f"{field}: {reason}" if field else "The request body is not valid JSON."
    if not field and "finite" in reason:
        message = f"The request body is {reason}"
    return InputError(message, field or None, reason=reason)


def _too_deep(field: str, max_depth: int = MAX_JSON_DEPTH) -> str:
    return f"{field or 'The value'} is nested more than {max_depth} levels deep."


def check_payload(value: Any, field: str) -> None:
    """A value about to be stored as one sample, seed or correction: storable, and no
    bigger than MAX_PAYLOAD_BYTES serialized."""
    check_storable(value, field)
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InputError(
            f"{field} is {size:,} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES:,}.", field
        )


def storable(value: Any) -> Any:
    """Model output made storable: NUL and lone surrogates become U+FFFD, in text and in
    JSON (keys included), NaN/Infinity become null. Everything else is returned as is."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()}
    return value


def query_int(
    params: Mapping[str, Any],
    name: str,
    default: int | None = None,
    *,
    minimum: int = 0,
    maximum: int = MAX_BIGINT,
) -> int | None:
    """An integer query parameter within [minimum, maximum]; `default` when absent or
    empty; InputError naming it otherwise. Only ASCII digits: `str.isdigit()` takes "²"."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise InputError(f"{name} must be a whole number from {minimum} to {maximum}.", name)
    number = int(text)
    if not minimum <= number <= maximum:
        raise InputError(f"{name} must be a whole number from {minimum} to {maximum}.", name)
    return number


def is_id(value: str) -> bool:
    """True for a string that is a positive bigint id (ASCII digits, in range)."""
    return value.isascii() and value.isdigit() and 0 < int(value) <= MAX_BIGINT


def check_query(params: Mapping[str, Any]) -> None:
    """InputError naming the first query parameter (name or value) holding text
    PostgreSQL cannot store; a lookup with it would fail in the database."""
    getlist = getattr(params, "lists", None)
    items = getlist() if getlist else ((k, [v]) for k, v in params.items())
    for name, values in items:
        for value in [name, *values]:
            if isinstance(value, str) and _UNSTORABLE.search(value):
                raise InputError(f"{name} {_NOT_STORABLE_WHY}.", name)
