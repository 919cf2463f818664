"""Exports of a dataset version as JSONL, CSV or Parquet, in constant memory.

Rows come from a server-side cursor in id order. Every file has the same columns: the
payload's fields (`text`, `entities`, `label`/`labels`, `instruction`/`input`/`response`,
`conv_prefix`/`response`, or a custom dataset's own fields) followed by Seedbed's metadata
(`sample_id`, `version`, `review_state`, `run_id`, `spec_version_id`, `provider`, `model`,
`original`). Lists and objects stay nested in JSONL and Parquet and are JSON strings in CSV;
`original` (a seed, whose shape varies) is a JSON string everywhere, so that every row of a
file has one schema and `pandas` and `datasets` load it without guessing.
"""

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import pyarrow as pa
import pyarrow.parquet as pq
from django.db import connection
from django.utils.text import slugify

from apps.core.csvsafe import csv_writer
from apps.specs.models import TaskType

from . import selectors
from .models import Dataset, ExportFormat, ReviewState, Sample

CHUNK_SIZE = 2000  # rows per server-side cursor fetch
ROW_GROUP = 5000  # rows per Parquet row group: bounds the writer's memory
FLUSH_ROWS = 500  # rows per streamed chunk of JSONL/CSV

_STR, _INT, _FLOAT, _BOOL, _JSON = "str", "int", "float", "bool", "json"
_STRLIST, _ENTITIES, _MESSAGES, _MESSAGE, _JSONSTR = (
    "strlist",
    "entities",
    "messages",
    "message",
    "jsonstr",
)
_MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
ARROW_TYPES: dict[str, pa.DataType] = {
    _STR: pa.string(),
    _INT: pa.int64(),
    _FLOAT: pa.float64(),
    _BOOL: pa.bool_(),
    _JSON: pa.string(),
    _JSONSTR: pa.string(),
    _STRLIST: pa.list_(pa.string()),
    _ENTITIES: pa.list_(
        pa.struct(
            [
                ("text", pa.string()),
                ("label", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
            ]
        )
    ),
    _MESSAGES: pa.list_(_MESSAGE_TYPE),
    _MESSAGE: _MESSAGE_TYPE,
}
PAYLOAD_COLUMNS: dict[str, list[tuple[str, str]]] = {
    TaskType.NER: [("text", _STR), ("entities", _ENTITIES)],
    TaskType.CLASSIFICATION: [("text", _STR), ("label", _STR), ("labels", _STRLIST)],
    TaskType.DECODER: [("instruction", _STR), ("input", _STR), ("response", _STR)],
    TaskType.CONVERSATION: [("conv_prefix", _MESSAGES), ("response", _MESSAGE)],
    TaskType.INPUTS: [("input", _STR)],
}
METADATA = [
    ("sample_id", _INT),
    ("version", _INT),
    ("review_state", _STR),
    ("run_id", _INT),
    ("spec_version_id", _INT),
    ("provider", _STR),
    ("model", _STR),
    ("original", _JSONSTR),
]
CONTENT_TYPES: dict[str, str] = {
    ExportFormat.JSONL: "application/x-ndjson; charset=utf-8",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class Column:
    name: str  # in the file
    key: str  # in the payload, or the metadata field
    kind: str
    meta: bool = False


def _payload_keys(dataset: Dataset, version: int) -> dict[str, str]:
    """Each payload key of the version with the kind its values fit (one scan)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.key,
                   array_agg(DISTINCT jsonb_typeof(e.value)),
                   bool_and(CASE WHEN jsonb_typeof(e.value) = 'number'
                                 THEN e.value::numeric = trunc(e.value::numeric)
                                 ELSE true END)
            FROM datasets_sample s, jsonb_each(s.payload) AS e
            WHERE s.dataset_id = %s AND s.version <= %s AND jsonb_typeof(s.payload) = 'object'
            GROUP BY e.key ORDER BY min(s.id), e.key
            """,
            [dataset.pk, version],
        )
        found = cursor.fetchall()
    kinds = {}
    for key, types, integral in found:
        types = set(types) - {"null"}
        if types == {"string"}:
            kinds[key] = _STR
        elif types == {"number"}:
            kinds[key] = _INT if integral else _FLOAT
        elif types == {"boolean"}:
            kinds[key] = _BOOL
        else:
            kinds[key] = _JSON  # nested or mixed: nested in JSONL, a JSON string elsewhere
    return kinds


def export_columns(dataset: Dataset, version: int) -> list[Column]:
    fixed = PAYLOAD_COLUMNS.get(dataset.task_type)
    if fixed is None or dataset.task_type == TaskType.CLASSIFICATION:
        found = _payload_keys(dataset, version)
        if fixed is not None:
            # Single- and multi-label rows may mix: keep the columns that occur.
            columns = [Column(k, k, kind) for k, kind in fixed if k in found or k == "text"]
        else:
            # Custom: in the order the fields were written, then any others as found.
            order = selectors.field_order(dataset, version)
            columns = [Column(k, k, kind) for k, kind in selectors.in_field_order(found, order)]
    else:
        columns = [Column(k, k, kind) for k, kind in fixed]
    taken = {c.name for c in columns}
    for key, kind in METADATA:
        name = key if key not in taken else f"seedbed_{key}"
        columns.append(Column(name, key, kind, meta=True))
    return columns


def export_rows(
    dataset: Dataset, version: int | None = None, *, skip_rejected: bool = False
) -> Iterator[dict[str, Any]]:
    """The version's samples in id order, as raw fields, from a server-side cursor;
    `skip_rejected` leaves out the samples a reviewer rejected."""
    version = version or dataset.latest_version
    samples = Sample.objects.filter(dataset=dataset, version__lte=version)
    if skip_rejected:
        samples = samples.exclude(review_state=ReviewState.REJECTED)
    rows = samples.order_by("id").values(
        "id", "version", "review_state", "run_id", "payload", "lineage"
    )
    yield from cast(Iterator[dict[str, Any]], rows.iterator(chunk_size=CHUNK_SIZE))


def _meta(row: dict[str, Any], key: str) -> Any:
    if key == "sample_id":
        return row["id"]
    if key in ("version", "review_state", "run_id"):
        return row[key]
    lineage = row["lineage"] if isinstance(row["lineage"], dict) else {}
    value = lineage.get(key)
    if key == "original":
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
    if key == "spec_version_id":
        return value if isinstance(value, int) else None
    return None if value is None else str(value)


_FIELDS = {
    _ENTITIES: ("text", "label", "start", "end"),
    _MESSAGES: ("role", "content"),
    _MESSAGE: ("role", "content"),
}


def _ordered(value: Any, kind: str) -> Any:
    """Nested objects with their fields in schema order (JSONB keeps them sorted by length),
    so JSONL, CSV and Parquet rows read the same."""
    fields = _FIELDS.get(kind)
    if fields is None:
        return value
    if kind == _MESSAGE:
        return {f: value.get(f) for f in fields} if isinstance(value, dict) else value
    if not isinstance(value, list):
        return value
    return [{f: item.get(f) for f in fields} if isinstance(item, dict) else item for item in value]


def _value(row: dict[str, Any], column: Column) -> Any:
    if column.meta:
        return _meta(row, column.key)
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    return _ordered(payload.get(column.key), column.kind)


def records(columns: list[Column], rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows as {column: value} with values as JSONL holds them."""
    for row in rows:
        yield {c.name: _value(row, c) for c in columns}


def _flat(value: Any, kind: str) -> Any:
    """A value for a flat file cell or Parquet's string-typed columns."""
    if value is None:
        return None
    if kind in (_JSON, _ENTITIES, _MESSAGES, _MESSAGE, _STRLIST) or isinstance(value, dict | list):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return value


def jsonl_chunks(columns: list[Column], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    lines: list[str] = []
    for record in records(columns, rows):
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) >= FLUSH_ROWS:
            yield ("\n".join(lines) + "\n").encode()
            lines.clear()
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def csv_chunks(columns: list[Column], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv_writer(buffer)  # cells that would be formulas are neutralised
    writer.writerow([c.name for c in columns])
    for n, record in enumerate(records(columns, rows), start=1):
        writer.writerow("" if (v := _flat(record[c.name], c.kind)) is None else v for c in columns)
        if n % FLUSH_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in columns])


def _arrow_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in (_JSON, _JSONSTR):
        return _flat(value, kind)
    if kind == _STR and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_parquet(columns: list[Column], rows: Iterable[dict[str, Any]], sink: BinaryIO) -> int:
    """Write row groups of ROW_GROUP rows; returns the number of rows written."""
    schema = arrow_schema(columns)
    written = 0
    group: list[dict[str, Any]] = []
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for record in records(columns, rows):
            group.append({c.name: _arrow_value(record[c.name], c.kind) for c in columns})
            if len(group) >= ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(group, schema=schema))
                written += len(group)
                group.clear()
        if group or not written:
            writer.write_table(pa.Table.from_pylist(group, schema=schema))
            written += len(group)
    return written


def stream_chunks(
    dataset: Dataset, version: int, fmt: str, *, skip_rejected: bool = False
) -> Iterator[bytes]:
    """JSONL or CSV bytes of a version, produced as they are sent."""
    columns = export_columns(dataset, version)
    rows = export_rows(dataset, version, skip_rejected=skip_rejected)
    if fmt == ExportFormat.CSV:
        return csv_chunks(columns, rows)
    return jsonl_chunks(columns, rows)


class CountingWriter:
    """Counts the rows that pass through, for the job's `rows` figure."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def export_to_file(
    dataset: Dataset, version: int, fmt: str, sink: BinaryIO, *, skip_rejected: bool = False
) -> int:
    """Write a whole export to an open binary file; returns the number of samples."""
    columns = export_columns(dataset, version)
    rows = CountingWriter(export_rows(dataset, version, skip_rejected=skip_rejected))
    if fmt == ExportFormat.PARQUET:
        return write_parquet(columns, rows, sink)
    chunks = csv_chunks(columns, rows) if fmt == ExportFormat.CSV else jsonl_chunks(columns, rows)
    for chunk in chunks:
        sink.write(chunk)
    return rows.count


def file_name(dataset: Dataset, version: int, fmt: str, *, skip_rejected: bool = False) -> str:
    kept = "-without-rejected" if skip_rejected else ""
    return f"{slugify(dataset.name) or 'dataset'}-v{version}{kept}.{fmt}"
