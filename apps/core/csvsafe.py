"""CSV files that are safe to open in a spreadsheet (OWASP, "CSV Injection").

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets, and a formula can run commands (DDE) or send the
sheet's data to a URL. Sample text comes from an LLM or an upload, so every writer of CSV
goes through `csv_writer`: such cells get a leading `'`, which makes them text; every
non-numeric cell is quoted (quotes doubled), so a separator inside a value (`,` here, `;`
where a spreadsheet's locale splits on it) can never start a new cell. Numbers are
written as numbers: they cannot hold a formula, and `-3` must stay a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: Any) -> Any:
    """The cell as a spreadsheet will show it as text, never evaluate it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    def __init__(self, sink: _Writable) -> None:
        self._writer = csv.writer(sink, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(value) for value in row])


def csv_writer(sink: _Writable) -> SafeWriter:
    return SafeWriter(sink)
