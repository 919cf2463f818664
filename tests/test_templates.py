"""Template source checks that rendering tests would only catch page by page."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_no_comment_tag_spans_lines():
    """Django's `{# … #}` ends at the line's end: one that goes on is shown on the page."""
    open_comment = re.compile(r"\{#(?!.*#\})")
    broken = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if open_comment.search(line)
    ]
    assert broken == []


def test_templates_carry_no_inline_script():
    """The Content-Security-Policy refuses inline script and eval: behaviour lives in
    static/seedbed/*.js (pages.js handles data-autosubmit, data-confirm, …)."""
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|hx-on[:-]|javascript:|hx-trigger=\"[^\"]*\[",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if inline.search(line)
    ]
    assert found == []
