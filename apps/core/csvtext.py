"""Reading uploaded CSV text record by record, with the line each record starts on.

Seed uploads and dataset imports both read CSV this way, so their line numbers and their
messages about broken files are the same.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts (a quoted cell may span lines)
    cells: list[str]
    error: str = ""  # set on the last record yielded: the reader cannot go on after it


def records(text: str) -> Iterator[Record]:
    """Non-blank records of CSV text (tab-separated when its first line says so)."""
    first = text[:4096].split("\n", 1)[0]
    dialect: type[csv.Dialect] = csv.excel_tab if "\t" in first and "," not in first else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(start, [], f"not valid CSV ({exc})")
            return  # the reader cannot resynchronise after a broken quote
        if any(cell.strip() for cell in cells):
            yield Record(start, cells)


def width_error(cells: list[str], header: list[str]) -> str:
    values = f"{len(cells)} value" + ("s" if len(cells) != 1 else "")
    return f"{values}, but the header has {len(header)} columns"
