"""The rows of a SINGLE_FILE seed file (CSV, JSON or JSONL), and the same formats written
back for the files a run generates."""

import csv
import io
import json
from typing import Any

from apps.core.csvsafe import neutralise

MAX_CSV_FIELD = 1024 * 1024


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is not UTF-8 text.") from exc


def parse_rows(extension: str, content: bytes) -> list[dict[str, Any]]:
    """Every row as an object; ValueError says what is wrong with the file."""
    text = _text(content)
    if extension == "csv":
        csv.field_size_limit(MAX_CSV_FIELD)
        try:
            reader = csv.DictReader(io.StringIO(text))
            rows = [{k: v for k, v in row.items() if k is not None} for row in reader]
        except csv.Error as exc:
            raise ValueError(f"not valid CSV ({exc}).") from exc
        if not reader.fieldnames:
            raise ValueError("the CSV has no header row.")
        return rows
    if extension == "jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                rows.append(_object(line, f"line {number}"))
        return rows
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError("not valid JSON.") from exc
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ValueError("JSON must be an array of objects.")
    return data


def _object(line: str, where: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{where} is not valid JSON.") from exc
    if not isinstance(row, dict):
        raise ValueError(f"{where} is not a JSON object.")
    return row


def write_rows(extension: str, rows: list[dict[str, Any]]) -> bytes:
    if extension == "csv":
        fields: dict[str, None] = {}
        for row in rows:
            fields.update(dict.fromkeys(row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return out.getvalue().encode()
    if extension == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    return json.dumps(rows, ensure_ascii=False, indent=2).encode()


def _cell(value: Any) -> Any:
    """Generated text is untrusted: a cell never becomes a spreadsheet formula."""
    if not isinstance(value, str | int | float):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value)
