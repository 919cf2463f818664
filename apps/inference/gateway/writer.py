"""The database side of the gateway's history writer (runs on the recorder's threads).

Rows are written with COPY on the thread's own long-lived connection in autocommit
mode: one round trip per batch and a fraction of `bulk_create`'s CPU per row, which
matters because these threads share the GIL with the event loop serving calls. A batch
that COPY cannot take (a row whose key, user or provider was deleted meanwhile; a retry
after a lost connection, whose rows may already be in) goes the careful way:
`bulk_create(ignore_conflicts=True)`, then row by row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.inference.models import Inference

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


def _insert_one(row: dict[str, Any]) -> None:
    try:
        Inference.objects.bulk_create([Inference(**row)], ignore_conflicts=True)
    except IntegrityError:
        # The key, user or provider was deleted meanwhile: keep the row without them.
        loose = {**row, "api_key_id": None, "user_id": None, "provider_id": None}
        try:
            Inference.objects.bulk_create([Inference(**loose)], ignore_conflicts=True)
        except IntegrityError:
            logger.warning("history row %s dropped: its project is gone", row.get("id"))


def _write_safely(rows: list[dict[str, Any]]) -> None:
    try:
        Inference.objects.bulk_create([Inference(**r) for r in rows], ignore_conflicts=True)
    except IntegrityError:
        for row in rows:
            _insert_one(row)


def write_rows(rows: list[dict[str, Any]], *, retry: bool = False) -> None:
    """Write rows (dicts of Inference attnames, with or without `id`), exactly once."""
    if retry or any(row.get("id") is None for row in rows):
        _raw(lambda raw: None)  # a fresh connection if the last one broke
        _write_safely(rows)
        return
    try:
        _copy(rows)
    except IntegrityError:
        _write_safely(rows)


def close_connection() -> None:
    connection.close()
