"""Reading a model's JSON answer: the one way, for runs and the gateway alike.

Providers without constrained decoding (Anthropic, `structured_output="none"`) often wrap
the JSON in a Markdown fence, sometimes after a line of prose:

    Here is the data:
    ```json
    {"samples": [...]}
    ```

`load_json_answer` accepts, in this order: the whole text as JSON (surrounding whitespace
allowed); else the JSON in the first ``` / ```json fence, when the fence opens within the
first PREAMBLE_MAX characters (a short prose preamble). The fence closes at the first
``` up to which the body parses (a JSON string may hold ``` itself), or at the end of the
text when it was never closed (cut off by max_tokens); what follows it is ignored.
Anything else raises `json.JSONDecodeError` exactly like `json.loads`, with line and
column counted in the whole text. JSON nested deeper than the parser can follow raises
`JSONTooDeep` ("JSON nested too deep to read"), itself a `json.JSONDecodeError`, instead
of a RecursionError.
"""

from __future__ import annotations

import json
import re
from typing import Any

PREAMBLE_MAX = 500  # characters of prose allowed before the opening fence
TOO_DEEP = "JSON nested too deep to read"
CLOSINGS_TRIED = 8  # a body holding ``` itself (in a JSON string) tries the next one

# The opening fence and its optional info string (json, JSON, jsonc, javascript, ...).
_OPEN = re.compile(r"```[ \t]*(?:[A-Za-z][\w.+-]*)?[ \t]*\r?\n?")
_CLOSE = "```"


class JSONTooDeep(json.JSONDecodeError):
    """The answer nests arrays/objects deeper than the JSON parser can follow."""

    def __init__(self, doc: str) -> None:
        super().__init__(TOO_DEEP, doc, 0)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise JSONTooDeep(text) from None


def load_json_answer(text: str) -> Any:
    """The JSON value a model answered with; see the module docstring for what is read."""
    try:
        return _loads(text)
    except JSONTooDeep:
        raise
    except json.JSONDecodeError as exc:
        plain = exc
    opening = _OPEN.search(text, 0, PREAMBLE_MAX + len(_CLOSE) + 64)
    if opening is None or opening.start() > PREAMBLE_MAX:
        raise plain
    start = opening.end()
    first_error: json.JSONDecodeError | None = None
    end = text.find(_CLOSE, start)
    for _ in range(CLOSINGS_TRIED):
        if end < 0:
            break
        try:
            return _loads(text[start:end])
        except JSONTooDeep:
            raise JSONTooDeep(text) from None
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
        end = text.find(_CLOSE, end + len(_CLOSE))
    if first_error is None:  # no closing fence: the answer was cut off, or never closed it
        try:
            return _loads(text[start:])
        except JSONTooDeep:
            raise JSONTooDeep(text) from None
        except json.JSONDecodeError as exc:
            first_error = exc
    # Positions in the whole answer, as a reader of the stored answer counts them.
    raise json.JSONDecodeError(first_error.msg, text, start + first_error.pos) from None
