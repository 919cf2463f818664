"""The database side of the gateway's history writer (runs on the recorder's threads).

Rows are written with COPY on the thread's own long-lived connection in autocommit
mode: one round trip per batch and a fraction of `bulk_create`'s CPU per row, which
matters because these threads share the GIL with the event loop serving calls. A batch
that COPY cannot take (a row whose key, user or provider was deleted meanwhile; a retry
after a lost connection, whose rows may already be in; a value PostgreSQL refuses) goes
the careful way: `bulk_create(ignore_conflicts=True)`, split in halves while it fails, so
that one row PostgreSQL refuses (a NUL character, NaN in JSON, a lone surrogate) costs a
few more statements and is handed back, never blocking the rows around it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.inference.models import Inference

logger = logging.getLogger(__name__)

T = TypeVar("T")
Refused = list[tuple[dict[str, Any], Exception]]

# What a retry cannot fix: the rows themselves (psycopg raises UnicodeEncodeError, a
# ValueError, for a lone surrogate before anything reaches the server).
ROW_ERRORS: tuple[type[Exception], ...] = (IntegrityError, DataError, ValueError)

_FIELDS = list(Inference._meta.concrete_fields)
_JSON = frozenset(f.attname for f in _FIELDS if f.get_internal_type() == "JSONField")
_COPY = "COPY {table} ({columns}) FROM STDIN".format(
    table=connection.ops.quote_name(Inference._meta.db_table),
    columns=", ".join(connection.ops.quote_name(f.column) for f in _FIELDS),
)
_NEXTVAL = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"


def _raw(fn: Callable[[Any], T]) -> T:
    """`fn(psycopg connection)` with Django's error mapping, reconnecting once if the
    thread's connection went bad (a database restart, an idle timeout)."""
    for attempt in (1, 2):
        try:
            with connection.wrap_database_errors:
                connection.ensure_connection()
                return fn(connection.connection)
        except (InterfaceError, OperationalError):
            connection.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def allocate_ids(count: int) -> list[int]:
    def query(raw: Any) -> list[int]:
        with raw.cursor() as cursor:
            cursor.execute(_NEXTVAL, [Inference._meta.db_table, count])
            return [row[0] for row in cursor.fetchall()]

    return _raw(query)


def _copy(rows: list[dict[str, Any]]) -> None:
    defaults = {f.attname: f.get_default() for f in _FIELDS}
    defaults["created_at"] = timezone.now()

    def copy_in(raw: Any) -> None:
        # Django keeps connections in autocommit mode: the COPY is its own transaction.
        with raw.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                values = {**defaults, **row}
                copy.write_row(
                    [
                        Jsonb(values[f.attname])
                        if f.attname in _JSON and values[f.attname] is not None
                        else values[f.attname]
                        for f in _FIELDS
                    ]
                )

    _raw(copy_in)


def _insert_one(row: dict[str, Any]) -> Refused:
    try:
        Inference.objects.bulk_create([Inference(**row)], ignore_conflicts=True)
        return []
    except IntegrityError:
        # The key, user or provider was deleted meanwhile: keep the row without them.
        loose = {**row, "api_key_id": None, "user_id": None, "provider_id": None}
        try:
            Inference.objects.bulk_create([Inference(**loose)], ignore_conflicts=True)
            return []
        except ROW_ERRORS as exc:
            return [(row, exc)]
    except (DataError, ValueError) as exc:
        return [(row, exc)]


def _write_safely(rows: list[dict[str, Any]]) -> Refused:
    try:
        Inference.objects.bulk_create([Inference(**r) for r in rows], ignore_conflicts=True)
        return []
    except ROW_ERRORS:
        if len(rows) == 1:
            return _insert_one(rows[0])
        half = len(rows) // 2
        return _write_safely(rows[:half]) + _write_safely(rows[half:])


def write_rows(rows: list[dict[str, Any]], *, retry: bool = False) -> Refused:
    """Write rows (dicts of Inference attnames, with or without `id`), exactly once.

    Returns the rows PostgreSQL refused, with why (retrying cannot help them); raises
    only what may pass (the database is unreachable), for the caller to retry."""
    if retry or any(row.get("id") is None for row in rows):
        _raw(lambda raw: None)  # a fresh connection if the last one broke
        return _write_safely(rows)
    try:
        _copy(rows)
        return []
    except ROW_ERRORS:
        return _write_safely(rows)


def close_connection() -> None:
    connection.close()
