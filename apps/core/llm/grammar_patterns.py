"""Regular expressions that llama.cpp's grammar compiler turns into grammars safely.

llama-cpp-python's JSON-schema converter (`llama_cpp/llama_grammar.py`) copies a
`pattern` almost verbatim into GBNF, and the grammar it builds matches the *JSON text* of
the string, escapes included. Escapes GBNF does not know (`\\d`, `\\.`, `\\1`, a trailing
backslash) and very large `{n,m}` make the server crash; `"` and `\\` in a pattern, `.`
and negated classes let the model write a bare quote or backslash, which is no longer
JSON. So a pattern is re-written here in the small subset the converter handles: every
character outside `[A-Za-z0-9]` as a one-character class of `\\uXXXX` escapes, and
characters JSON must escape as their escape sequence (`"` → `\\"`), so the model can still
write them. The same encoding turns enum values with such characters into patterns (the
converter writes enum literals without escaping backslashes: `"x\\"y"` kills the server).
"""

from __future__ import annotations

import json
import re

MAX_REPEAT = 1000  # a bigger {n,m} nests parentheses deep enough to crash the server
MAX_PATTERN_CHARS = 2000

Ranges = list[tuple[int, int]]

TOP = 0x10FFFF
SURROGATES: Ranges = [(0xD800, 0xDFFF)]
# Characters a JSON string cannot hold as they are.
MUST_ESCAPE: Ranges = [(0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C)]
# What negated classes and `.` may write escaped: control characters other than these
# would be legal but are left out to keep the grammar small.
ESCAPED_IN_FREE_TEXT = frozenset({0x09, 0x0A, 0x0D, 0x22, 0x5C})
LINE_BREAKS: Ranges = [(0x0A, 0x0A), (0x0D, 0x0D)]
DIGITS: Ranges = [(0x30, 0x39)]
WORD: Ranges = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
SPACES: Ranges = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x2028, 0x2029), (0xFEFF, 0xFEFF)]
SHORTHANDS = {"d": DIGITS, "w": WORD, "s": SPACES}
CONTROL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}
QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


class PatternError(ValueError):
    """Why a pattern cannot be constrained safely (the message says it to a person)."""


def normalized(ranges: Ranges) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    start = 0
    for lo, hi in normalized(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= TOP:
        out.append((start, TOP))
    return out


def intersect(a: Ranges, b: Ranges) -> Ranges:
    out = [
        (max(lo1, lo2), min(hi1, hi2))
        for lo1, hi1 in normalized(a)
        for lo2, hi2 in normalized(b)
        if max(lo1, lo2) <= min(hi1, hi2)
    ]
    return normalized(out)


def subtract(a: Ranges, b: Ranges) -> Ranges:
    return intersect(a, complement(b))


def _code(cp: int) -> str:
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"


def _unit(char: str) -> str:
    # ASCII letters and digits are the only characters the converter copies as they are
    # in every position; anything else goes in a class, where `\\uXXXX` is always read.
    if char.isascii() and char.isalnum():
        return char
    return f"[{_code(ord(char))}]"


def literal(char: str) -> str:
    """One character of the decoded string, as the pattern of its JSON text."""
    if 0xD800 <= ord(char) <= 0xDFFF:
        raise PatternError(f"contains an unpaired surrogate (U+{ord(char):04X})")
    encoded = json.dumps(char, ensure_ascii=False)[1:-1]
    units = "".join(_unit(c) for c in encoded)
    return units if len(encoded) == 1 else f"({units})"


def string_pattern(value: str) -> str:
    """The pattern of exactly this string (for an enum value the converter cannot write)."""
    return "".join(literal(char) for char in value)


def char_set(ranges: Ranges, *, free_text: bool) -> str:
    """A class of decoded characters as a pattern over their JSON text. `free_text`
    (negated classes, `.`) lets escapes in only for tab, line breaks, `"` and `\\`."""
    ranges = subtract(ranges, SURROGATES)
    safe = subtract(ranges, MUST_ESCAPE)
    parts = []
    if safe:
        parts.append(
            "["
            + "".join(_code(lo) if lo == hi else f"{_code(lo)}-{_code(hi)}" for lo, hi in safe)
            + "]"
        )
    for lo, hi in intersect(ranges, MUST_ESCAPE):
        for cp in range(lo, hi + 1):
            if not free_text or cp in ESCAPED_IN_FREE_TEXT:
                parts.append(literal(chr(cp)))
    if not parts:
        raise PatternError("a character class matches nothing a JSON string can hold")
    return parts[0] if len(parts) == 1 else "(" + "|".join(parts) + ")"


class _Reader:
    def __init__(self, body: str) -> None:
        self.body = body
        self.i = 0
        self.out: list[str] = []
        self.depth = 0
        self.can_repeat = False
        self.repeats = 0

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.body[j] if j < len(self.body) else ""

    def hex_escape(self, digits: int) -> int:
        text = self.body[self.i + 2 : self.i + 2 + digits]
        if len(text) != digits or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise PatternError(f"malformed escape at position {self.i + 1}")
        self.i += 2 + digits
        return int(text, 16)

    def escape(self) -> tuple[Ranges, bool]:
        """The escape at `i` as (code point ranges, negated); advances past it."""
        kind = self.peek(1)
        if not kind:
            raise PatternError("ends with a lone backslash")
        if kind.lower() in SHORTHANDS:
            self.i += 2
            return SHORTHANDS[kind.lower()], kind.isupper()
        if kind in CONTROL_ESCAPES:
            self.i += 2
            cp = ord(CONTROL_ESCAPES[kind])
        elif kind == "x":
            cp = self.hex_escape(2)
        elif kind == "u":
            cp = self.hex_escape(4)
        elif kind.isalnum():
            what = "back-references" if kind.isdigit() else f"\\{kind}"
            raise PatternError(f"{what} cannot be constrained (position {self.i + 1})")
        else:
            self.i += 2
            cp = ord(kind)
        return [(cp, cp)], False

    def char_class(self) -> None:
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        members: Ranges = []
        first = True
        while True:
            c = self.peek()
            if not c:
                raise PatternError("a [ is never closed")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "\\":
                ranges, negated_shorthand = self.escape()
                if negated_shorthand:
                    raise PatternError("\\D, \\W and \\S cannot be used inside [ ]")
            else:
                self.i += 1
                ranges = [(ord(c), ord(c))]
            if self.peek() == "-" and self.peek(1) not in ("]", "") and len(ranges) == 1:
                lo = ranges[0][0]
                self.i += 1
                if self.peek() == "\\":
                    end, _ = self.escape()
                else:
                    end = [(ord(self.peek()), ord(self.peek()))]
                    self.i += 1
                if len(end) != 1 or end[0][0] != end[0][1] or end[0][0] < lo:
                    raise PatternError("a range in [ ] is out of order")
                ranges = [(lo, end[0][0])]
            members += ranges
        if negated:
            members = complement(members)
        self.atom(char_set(members, free_text=negated))

    def atom(self, text: str) -> None:
        self.out.append(text)
        self.can_repeat = True

    def repeat(self, text: str) -> None:
        if not self.can_repeat:
            raise PatternError(f"a quantifier at position {self.i + 1} has nothing to repeat")
        self.out.append(text)
        self.can_repeat = False
        if self.peek() in ("?", "+"):  # lazy or possessive: the same set of strings
            self.i += 1

    def braces(self) -> None:
        match = QUANTIFIER.match(self.body, self.i)
        if not match:
            raise PatternError(f"a {{ at position {self.i + 1} is not a {{n,m}} quantifier")
        low = int(match.group(1))
        high = None if match.group(2) and not match.group(3) else int(match.group(3) or low)
        if max(low, high or 0) > MAX_REPEAT:
            raise PatternError(f"{match.group(0)} repeats more than {MAX_REPEAT} times")
        if high is not None and high < low:
            raise PatternError(f"{match.group(0)} is out of order")
        self.i = match.end()
        self.repeats += max(low, high or 0)
        self.repeat(match.group(0))

    def translate(self) -> str:
        while self.i < len(self.body):
            c = self.peek()
            if c == "\\":
                ranges, negated = self.escape()
                if negated:
                    self.atom(char_set(complement(ranges), free_text=True))
                elif len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
                    self.atom(literal(chr(ranges[0][0])))
                else:
                    self.atom(char_set(ranges, free_text=False))
            elif c == "[":
                self.char_class()
            elif c == ".":
                self.i += 1
                self.atom(char_set(complement(LINE_BREAKS), free_text=True))
            elif c == "(":
                if self.peek(1) == "?":
                    raise PatternError("(?…) groups (lookarounds, named groups) are not supported")
                self.i += 1
                self.depth += 1
                self.out.append("(")
                self.can_repeat = False
            elif c == ")":
                if not self.depth:
                    raise PatternError(f"the ) at position {self.i + 1} closes no group")
                self.i += 1
                self.depth -= 1
                self.atom(")")
            elif c == "|":
                self.i += 1
                self.out.append("|")
                self.can_repeat = False
            elif c in "*+?":
                self.i += 1
                self.repeat(c)
            elif c == "{":
                self.braces()
            elif c in "^$":
                raise PatternError(f"{c} is only supported at the start (^) and end ($)")
            else:
                self.i += 1
                self.atom(literal(c))
        if self.depth:
            raise PatternError("a ( is never closed")
        return "".join(self.out)


def safe_pattern(pattern: str) -> tuple[str, int]:
    """The pattern re-written for llama.cpp's converter, and the sum of its {n,m} counts
    (the grammar grows with them); PatternError if it cannot be made safe."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"is longer than {MAX_PATTERN_CHARS} characters")
    head = pattern[:-1]
    escaped_end = (len(head) - len(head.rstrip("\\"))) % 2 == 1
    if len(pattern) < 2 or pattern[0] != "^" or pattern[-1] != "$" or escaped_end:
        # Unanchored, the converter gives up and the model is not constrained at all.
        raise PatternError(
            "must start with ^ and end with $: llama.cpp only constrains whole-string matches"
        )
    # The group keeps a top-level | inside the string's quotes.
    reader = _Reader(pattern[1:-1])
    return "^(" + reader.translate() + ")$", reader.repeats
