"""Comparing and locating texts: the normal form duplicates and echoes are compared in,
and where an entity's mention sits in a sample's text."""

import hashlib
import re
import unicodedata


def normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


# camelCase and PascalCase word boundaries ("featureRequest", "HTTPError", "v2Beta"); ASCII
# only, after NFKC has turned full-width letters into ASCII ones.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Punctuation, symbols, separators (`_ - . /`) and whitespace alike: word breaks.
_NON_WORD = re.compile(r"[\W_]+")


def _keep_marks(match: re.Match[str]) -> str:
    # Combining marks are not \w, yet they belong to their letter (Devanagari vowel signs,
    # accents no precomposed letter exists for): only the rest of the run is a break.
    return "".join(c if unicodedata.category(c)[0] == "M" else " " for c in match.group())


def _words(folded: str) -> str:
    if folded.isascii():
        return _NON_WORD.sub(" ", folded).strip()
    return " ".join(_NON_WORD.sub(_keep_marks, folded).split())


def word_text(text: str) -> str:
    """The words of a text, in its NFKC form, casefolded, one space between them: what
    near-duplicates are compared in (punctuation, symbols and spacing do not count)."""
    return _words(unicodedata.normalize("NFKC", text).casefold())


def echo_key(text: str) -> str:
    """How a text compares with the spec's own words (labels, requirements, seeds): its
    words only, whatever their case, separators, camelCase, surrounding punctuation or
    Unicode compatibility form, so that "Feature request.", "feature-request" and
    "featureRequest" all repeat the label `feature_request`.

    Both sides, the spec's words and the text, must go through this function."""
    return _words(_CAMEL.sub(" ", unicodedata.normalize("NFKC", text)).casefold())


def text_hash(text: str) -> str:
    """Key for exact-duplicate detection within a dataset."""
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()[:32]


def _loose_pattern(mention: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in mention.split()]
    return re.compile(r"\s+".join(words), re.IGNORECASE)


def _find(text: str, mention: str, start: int, loose: bool) -> tuple[int, int] | None:
    found = text.find(mention, start)
    if found >= 0:
        return found, found + len(mention)
    if loose and mention.strip():
        match = _loose_pattern(mention).search(text, start)
        if match is not None:
            return match.start(), match.end()
    return None


def locate_mentions(
    text: str, mentions: list[str], *, loose: bool = False
) -> list[tuple[int, int] | None]:
    """Where each mention is in `text`, as (start, end); None where it is not there.

    The k-th mention of the same string is its k-th occurrence in the text (the first one
    when there are fewer). `loose` also accepts a different case and other whitespace, for
    model answers: the caller must then take the entity text from the slice it got.
    """
    spans: list[tuple[int, int] | None] = []
    seen: dict[str, int] = {}
    for mention in mentions:
        span = _find(text, mention, seen.get(mention, 0), loose) or _find(text, mention, 0, loose)
        if span is not None:
            seen[mention] = span[1]
        spans.append(span)
    return spans
