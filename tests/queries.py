"""Count the SQL statements a block runs (robust to Django resetting its query log when a
request starts, which makes CaptureQueriesContext miss the statements of a request)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


class QueryLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append(sql)
        return execute(sql, params, many, context)


@contextmanager
def count_queries() -> Iterator[QueryLog]:
    log = QueryLog()
    with connection.execute_wrapper(log):
        yield log
