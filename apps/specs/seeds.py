"""Seed examples: JSONL or CSV text in, rows and line-numbered problems out.

Reading (`parse_*`) runs when a spec is submitted, so a line that cannot be read is refused
before anything is stored. Checking the rows against the task's schema and the spec's
labels (`check_seeds`) is semantic and belongs to the spec version check job.
"""

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, NotRequired, TypedDict

from django.core.exceptions import ValidationError

from apps.core import csvtext
from apps.core.inputs import InputError, parse_json

from .models import TaskType
from .task_types import (
    REASON_LABELS,
    REASON_SCHEMA,
    REASON_UNKNOWN_LABEL,
    SpecContent,
    check_sample,
    schema_problems,
)

MAX_SEEDS = 1_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Past this many, more messages help nobody: fix the first ones and resubmit.
MAX_PROBLEMS_SHOWN = 20
PROBLEMS_PER_SEED = 5

JSONL = "jsonl"
CSV = "csv"
LABELLED_TASKS = (TaskType.NER, TaskType.CLASSIFICATION)

# CSV columns per task type: (required, optional). Custom takes any columns.
CSV_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    TaskType.NER: (("text", "entities"), ()),
    TaskType.CLASSIFICATION: (("text", "label"), ()),
    TaskType.DECODER: (("instruction", "response"), ("input",)),
    TaskType.CONVERSATION: (("conv_prefix", "response"), ()),
    TaskType.INPUTS: (("input",), ()),
}
# Cells of these columns hold JSON (a list of entities, a list of messages, a message).
CSV_JSON_COLUMNS: dict[str, set[str]] = {
    TaskType.NER: {"entities"},
    TaskType.CONVERSATION: {"conv_prefix", "response"},
}
MULTI_LABEL_SEPARATOR = "|"


class Problem(TypedDict):
    """One thing wrong with the seeds: `line` in the submitted text (None: the whole input)."""

    line: int | None
    message: str
    seed: NotRequired[int]


@dataclass
class ParsedSeeds:
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line each row starts on
    problems: list[Problem] = field(default_factory=list)

    def add(self, row: dict[str, Any], line: int) -> bool:
        """Keep a row; False once the limit is passed (the caller stops reading)."""
        if len(self.rows) >= MAX_SEEDS:
            self.problems.append(
                {
                    "line": line,
                    "message": f"too many seeds: at most {MAX_SEEDS:,} per spec "
                    f"(this line holds seed {MAX_SEEDS + 1:,}).",
                }
            )
            return False
        self.rows.append(row)
        self.lines.append(line)
        return True


def format_problem(problem: Problem) -> str:
    if problem.get("line"):
        return f"Line {problem['line']}: {problem['message']}"
    if problem.get("seed"):
        return f"Seed {problem['seed']}: {problem['message']}"
    return problem["message"]


def problem_messages(problems: list[Problem]) -> list[str]:
    shown = [format_problem(p) for p in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"…and {len(problems) - MAX_PROBLEMS_SHOWN} more problems.")
    return shown


# --- reading -----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def parse_jsonl(text: str) -> ParsedSeeds:
    """One JSON object per line; blank lines are skipped but still counted."""
    parsed = ParsedSeeds()
    # Not splitlines(): it also splits on U+2028 and friends, which JSON strings may hold.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except InputError as exc:
            parsed.problems.append({"line": number, "message": exc.reason})
            continue
        if not isinstance(row, dict):
            hint = " Put each object on its own line." if isinstance(row, list) else ""
            parsed.problems.append(
                {
                    "line": number,
                    "message": f"expected a JSON object {{…}}, got {_kind(row)}.{hint}",
                }
            )
            continue
        if not parsed.add(row, number):
            break
    return parsed


def _csv_header(header: list[str], task_type: str, parsed: ParsedSeeds) -> list[str] | None:
    names = [name.strip() for name in header]
    if task_type == TaskType.CUSTOM:
        seen: set[str] = set()
        for name in names:
            if not name:
                parsed.problems.append({"line": 1, "message": "a column has no name."})
            elif name in seen:
                parsed.problems.append({"line": 1, "message": f"column {name!r} appears twice."})
            seen.add(name)
        return None if parsed.problems else names
    names = [name.lower() for name in names]
    required, optional = CSV_COLUMNS[task_type]
    if task_type == TaskType.CLASSIFICATION:
        names = ["label" if name == "labels" else name for name in names]
    missing = [name for name in required if name not in names]
    unknown = [name for name in names if name not in required + optional]
    expected = ", ".join(required + optional)
    if missing:
        parsed.problems.append(
            {
                "line": 1,
                "message": f"the header needs the column(s) {', '.join(missing)} "
                f"(a {task_type} CSV has the columns {expected}).",
            }
        )
    if unknown:
        parsed.problems.append(
            {
                "line": 1,
                "message": f"unexpected column(s) {', '.join(map(repr, unknown))} "
                f"(a {task_type} CSV has the columns {expected}).",
            }
        )
    return None if missing or unknown else names


def _csv_row(
    names: list[str], cells: list[str], task_type: str, multi_label: bool
) -> tuple[dict[str, Any] | None, str]:
    """A row as a sample payload, or None and the reason it cannot be read."""
    if len(cells) != len(names):
        return None, f"{csvtext.width_error(cells, names)}."
    row: dict[str, Any] = {}
    json_columns = CSV_JSON_COLUMNS.get(task_type, set())
    for name, cell in zip(names, cells, strict=True):
        if name in json_columns:
            try:
                row[name] = parse_json(cell)
            except InputError as exc:
                return None, f"column {name!r} must hold JSON: {exc.reason}"
        elif "\x00" in cell:
            return None, f"column {name!r} contains a NUL character."
        else:
            row[name] = cell
    if task_type == TaskType.CLASSIFICATION and multi_label:
        labels = [label.strip() for label in row.pop("label").split(MULTI_LABEL_SEPARATOR)]
        row["labels"] = [label for label in labels if label]
    return row, ""


def parse_csv(text: str, *, task_type: str, multi_label: bool = False) -> ParsedSeeds:
    """A header row, then one seed per record. Line numbers count the header as line 1."""
    parsed = ParsedSeeds()
    names: list[str] | None = None
    for record in csvtext.records(text):
        if record.error:
            parsed.problems.append({"line": record.line, "message": f"{record.error}."})
            break
        if names is None:
            names = _csv_header(record.cells, task_type, parsed)
            if names is None:
                break
            continue
        row, reason = _csv_row(names, record.cells, task_type, multi_label)
        if row is None:
            parsed.problems.append({"line": record.line, "message": reason})
        elif not parsed.add(row, record.line):
            break
    if names is None and not parsed.problems:
        parsed.problems.append({"line": None, "message": "the CSV is empty: it needs a header."})
    return parsed


def parse_seed_text(
    text: str, *, fmt: str, task_type: str, multi_label: bool = False
) -> ParsedSeeds:
    if fmt == CSV:
        return parse_csv(text, task_type=task_type, multi_label=multi_label)
    return parse_jsonl(text)


def guess_format(filename: str, text: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return CSV
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return JSONL
    return JSONL if text.lstrip().startswith("{") else CSV


def decode_upload(data: bytes) -> str:
    """The text of an upload, or ValidationError for files that are too big or not UTF-8."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"the file is {len(data) / 1024 / 1024:.1f} MB; seed files can be at most "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB."
        )
    try:
        return data.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"Line {line}: the file is not UTF-8 text.") from exc


def seeds_from_text(
    text: str, *, fmt: str, task_type: str, multi_label: bool = False, field: str = "seeds"
) -> list[dict[str, Any]]:
    """Rows of seed text, or ValidationError({field: ["Line n: …", …]})."""
    if len(text.encode()) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {field: f"Seeds can be at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB of text."}
        )
    parsed = parse_seed_text(text, fmt=fmt, task_type=task_type, multi_label=multi_label)
    if parsed.problems:
        raise ValidationError({field: problem_messages(parsed.problems)})
    return parsed.rows


def seeds_from_upload(
    data: bytes, *, filename: str, task_type: str, multi_label: bool = False, field: str = "seeds"
) -> list[dict[str, Any]]:
    try:
        text = decode_upload(data)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    fmt = guess_format(filename, text)
    return seeds_from_text(text, fmt=fmt, task_type=task_type, multi_label=multi_label, field=field)


def seeds_to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)


# --- checking ----------------------------------------------------------------------------


def check_seed(row: Any, content: SpecContent) -> str | None:
    """Why one seed is not a valid sample of the spec, or None."""
    checked = check_sample(row, content)
    labelled = content.task_type in LABELLED_TASKS
    if not checked.ok:
        detail = checked.detail
        if checked.reason == REASON_SCHEMA:  # every problem at once, not one per save
            detail = schema_problems(row, content, PROBLEMS_PER_SEED) or detail
        message = f"{REASON_LABELS.get(checked.reason, checked.reason)}: {detail}"
        if checked.reason == REASON_UNKNOWN_LABEL:
            message += f" (the spec's labels: {label_list(content.labels)})"
        return message + "."
    # check_sample lets any label through when the spec has none; seeds may not.
    unknown = [label for label in checked.labels if label not in content.labels]
    if labelled and unknown:
        return (
            f"{REASON_LABELS[REASON_UNKNOWN_LABEL]}: label {unknown[0]!r} "
            f"(the spec's labels: {label_list(content.labels)})."
        )
    return None


def label_list(labels: tuple[str, ...]) -> str:
    """Labels to quote in an error: the first ten, and how many there are."""
    if not labels:
        return "none yet"
    shown = ", ".join(labels[:10])
    return shown + (f", … ({len(labels)} in all)" if len(labels) > 10 else "")


def check_seeds(
    rows: list[Any] | tuple[Any, ...], content: SpecContent, lines: list[int] | None = None
) -> list[Problem]:
    """Each seed checked as a sample of the spec; `lines` gives where each one was read."""
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        reason = check_seed(row, content)
        if reason is not None:
            line = lines[index] if lines and index < len(lines) else None
            problems.append({"line": line, "seed": index + 1, "message": reason})
    return problems
