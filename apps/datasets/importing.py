"""Parsing JSONL and CSV files into sample payloads, each with the line it came from.

The import service (`services.dataset_import`) validates every row with the same checker
as generated samples. Rows are parsed lazily so a 50 MB file never becomes a list of
200,000 dicts in memory.
"""

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import PurePath
from typing import Any

from apps.core import csvtext
from apps.core.inputs import InputError, check_payload, parse_json
from apps.specs.models import TaskType
from apps.specs.task_types import REASON_LABELS, Checked, SpecContent, check_sample

MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_IMPORT_ROWS = 200_000
MAX_REPORTED_ERRORS = 20
EXAMPLES = 20  # payloads a custom import infers its schema from

# Columns Seedbed's own exports add next to the payload (see export.METADATA); a file
# exported from Seedbed imports back unchanged.
METADATA_KEYS = frozenset(
    {
        "sample_id",
        "version",
        "review_state",
        "run_id",
        "spec_version_id",
        "provider",
        "model",
        "original",
    }
)
# The file types an import reads, by extension (TSV goes through the CSV reader, which
# detects the tabs).
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv"}
FILE_TYPES = ", ".join(list(FORMATS)[:-1]) + f" or {list(FORMATS)[-1]}"  # for messages
ACCEPT = ",".join(FORMATS)  # for a file input's accept attribute
# CSV cells holding lists or objects, written as JSON by the CSV export.
JSON_COLUMNS: dict[str, set[str]] = {
    TaskType.NER: {"entities"},
    TaskType.CLASSIFICATION: {"labels"},
    TaskType.CONVERSATION: {"conv_prefix", "response"},
}


@dataclass
class Row:
    line: int
    payload: Any = None
    extra: dict[str, Any] | None = None  # metadata columns found next to the payload
    error: str = ""
    checked: Checked | None = None


def type_problem(file_name: str) -> str | None:
    """Why an import cannot read a file of this type (its extension), or None."""
    suffix = PurePath(file_name).suffix.lower()
    if not suffix or suffix in FORMATS:
        return None
    return f"{file_name}: unsupported file type {suffix}; use {FILE_TYPES}."


def detect_format(file_name: str, content: bytes) -> str:
    """The reader for a file: from its extension, or its first byte when it has none.
    Raises ValueError naming the supported types for any other extension."""
    if problem := type_problem(file_name):
        raise ValueError(problem)
    suffix = PurePath(file_name).suffix.lower()
    if suffix:
        return FORMATS[suffix]
    return "jsonl" if content.lstrip()[:1] == b"{" else "csv"


def decode(content: bytes) -> str:
    """UTF-8 text (a BOM is dropped); raises ValueError naming the line of a bad byte."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ValueError(f"line {line}: not UTF-8 text (byte {exc.start})") from exc


def _split(obj: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A row's payload and its metadata: `{"payload": {...}}` or the payload's own fields."""
    extra = {k: v for k, v in obj.items() if k in METADATA_KEYS or k.startswith("seedbed_")}
    if isinstance(obj.get("payload"), dict):
        return obj["payload"], extra
    return {k: v for k, v in obj.items() if k not in extra}, extra


def iter_jsonl(text: str) -> Iterator[Row]:
    # str.splitlines would also split on U+2028 and friends, which JSON allows raw.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line, f"line {number}")
        except InputError as exc:
            yield Row(number, error=exc.message)
            continue
        if not isinstance(obj, dict):
            yield Row(number, error=f"line {number}: expected a JSON object")
            continue
        yield _row(number, obj)


def _row(number: int, obj: dict[str, Any]) -> Row:
    """A parsed row, or its error when it could not be stored (apps/core/inputs.py)."""
    try:
        check_payload(obj, f"line {number}")
    except InputError as exc:
        return Row(number, error=exc.message)
    payload, extra = _split(obj)
    return Row(number, payload, extra)


def iter_csv(text: str, task_type: str) -> Iterator[Row]:
    json_columns = JSON_COLUMNS.get(task_type, set())
    header: list[str] | None = None
    for record in csvtext.records(text):
        line, cells = record.line, record.cells
        if record.error:
            yield Row(line, error=f"line {line}: {record.error}")
            return
        if header is None:
            header = [h.strip() for h in cells]
            continue
        if len(cells) > len(header):  # fewer cells: the missing ones are absent fields
            yield Row(line, error=f"line {line}: {csvtext.width_error(cells, header)}")
            continue
        obj: dict[str, Any] = {}
        error = ""
        for name, cell in zip(header, cells, strict=False):
            if cell == "" or not name:
                continue  # an empty cell is an absent field (e.g. `label` in a multi-label row)
            wants_json = (
                name in json_columns
                or name == "original"
                or (task_type == TaskType.CUSTOM and cell[:1] in "[{")
            )
            if wants_json:
                try:
                    obj[name] = parse_json(cell, f"line {line}: column {name!r}")
                except InputError as exc:
                    error = exc.message
                    break
            else:
                obj[name] = cell
        if error:
            yield Row(line, error=error)
            continue
        yield _row(line, obj)


def iter_rows(fmt: str, text: str, task_type: str) -> Iterator[Row]:
    return iter_jsonl(text) if fmt == "jsonl" else iter_csv(text, task_type)


def lineage_of(row: Row, file_name: str) -> dict[str, Any]:
    lineage: dict[str, Any] = {"source": "import", "file": file_name[:200], "line": row.line}
    extra = row.extra or {}
    for key in ("provider", "model"):
        if extra.get(key):
            lineage[key] = extra[key]
    original = extra.get("original")
    if isinstance(original, str):
        with contextlib.suppress(InputError):
            original = parse_json(original)
    if original not in (None, ""):
        lineage["original"] = original
    return lineage


def _content(task_type: str, payload: Any, seeds: tuple[dict[str, Any], ...]) -> SpecContent:
    multi = isinstance(payload, dict) and "labels" in payload and "label" not in payload
    # Imports may bring new labels, so any label is allowed (no spec to hold them to).
    return SpecContent(task_type=task_type, multi_label=multi, seeds=seeds)


def checked_rows(
    content: bytes, file_name: str, task_type: str, existing: Sequence[Any] = ()
) -> Iterator[Row]:
    """Every row of the file, checked like a generated sample: `checked` or `error` is set.

    Custom rows have no spec to follow: they must share the fields and types of the
    `existing` samples of the dataset (a few of its payloads), or of the file's first rows
    when the dataset is new. Raises ValueError when the file as a whole cannot be read.
    """
    fmt = detect_format(file_name, content)
    text = decode(content)
    seeds: tuple[dict[str, Any], ...] = ()
    if task_type == TaskType.CUSTOM:
        examples = existing or [r.payload for r in islice(_valid_rows(fmt, text), EXAMPLES)]
        seeds = tuple(p for p in examples[:EXAMPLES] if isinstance(p, dict))
    return _check(iter_rows(fmt, text, task_type), task_type, seeds)


def _valid_rows(fmt: str, text: str) -> Iterator[Row]:
    return (row for row in iter_rows(fmt, text, TaskType.CUSTOM) if not row.error)


def _check(rows: Iterator[Row], task_type: str, seeds: tuple[dict[str, Any], ...]) -> Iterator[Row]:
    for n, row in enumerate(rows, start=1):
        if n > MAX_IMPORT_ROWS:
            yield Row(
                row.line, error=f"line {row.line}: the file has more than {MAX_IMPORT_ROWS:,} rows"
            )
            return
        if not row.error:
            checked = check_sample(row.payload, _content(task_type, row.payload, seeds))
            if checked.ok:
                row.checked = checked
            else:
                reason = REASON_LABELS.get(checked.reason, checked.reason)
                row.error = f"line {row.line}: {reason}: {checked.detail}"
        yield row
