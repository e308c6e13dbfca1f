"""The hot reads on PostgreSQL: prepared statements, each run by one libpq call.

psycopg's cursor runs a statement as a generator of Python steps around libpq (start the
query, decide whether to prepare it, send it, wait, fetch and check each result); on the hot
paths that cost the client more CPU than PostgreSQL spent answering. ``DriverCursor`` sends a
prepared statement's name and parameters in one blocking libpq call, dumping the parameters
and loading the rows with psycopg's own adapters (in C with ``psycopg[binary]``), the same
adapters and time zone Django's cursors use. Each connection prepares each statement once;
a new connection (Django replaces a broken one) gets a cursor, and statements, of its own.
psycopg itself prepares nothing (Django turns that off): after a rollback it would send
DEALLOCATE ALL, dropping these statements along with its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq.abc import PGresult


class _LastQuery:
    """What Django's query log reads of a psycopg cursor's last statement (``_query.query``):
    here, the statement with PostgreSQL's placeholders ($1, $2, ...) for Django's (%s)."""

    def __init__(self, sql: str):
        numbers = iter(range(1, sql.count("%s") + 1))
        self.query = re.sub("%s", lambda _: f"${next(numbers)}", sql).encode()


_last_query = cache(_LastQuery)


class DriverCursor:
    """The DB-API cursor behind Django's cursor wrapper for a hot read: ``execute``,
    ``fetchone``, ``fetchall``."""

    def __init__(self, db: BaseDatabaseWrapper):
        self._conn: psycopg.Connection = db.connection
        # psycopg's own cursor, for a statement that must open Django's transaction first
        # (its BEGIN carries the connection's isolation level; the statement is not prepared
        # then), and the adapters' context.
        self._opening = psycopg.Cursor(self._conn)
        register_tzloader(db.timezone, self._opening)
        self._adapters = Transformer(self._opening)
        self._names: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self._rows: list[tuple] = []
        self._query: _LastQuery | None = None

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        pgconn = self._conn.pgconn
        self._query = _last_query(sql)
        if not self._conn.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE:
            self._opening.execute(sql, params)
            self._rows = self._opening.fetchall()
            return
        adapters = self._adapters
        values = adapters.dump_sequence(params, [PyFormat.AUTO] * len(params))
        key = (sql, adapters.types or ())
        with self._conn.lock:
            name = self._names.get(key)
            if name is None:
                name = b"admit_%d" % len(self._names)
                self._check(pgconn.prepare(name, self._query.query, key[1]))
                self._names[key] = name
            # None among the values is NULL, which the stubs leave out
            result = pgconn.exec_prepared(name, values, adapters.formats)  # type: ignore[arg-type]
        self._check(result)
        adapters.set_pgresult(result)
        self._rows = adapters.load_rows(0, result.ntuples, tuple)

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple]:
        found, self._rows = self._rows, []
        return found

    def _check(self, result: PGresult) -> None:
        if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            return
        if self._conn.pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError(result.get_error_message(self._conn.info.encoding))
        raise psycopg.errors.error_from_result(result, encoding=self._conn.info.encoding)


_cursors: WeakKeyDictionary[psycopg.Connection, DriverCursor] = WeakKeyDictionary()


def driver_cursor(db: BaseDatabaseWrapper) -> DriverCursor:
    """The connection's cursor for hot reads; ``db`` is connected."""
    cursor = _cursors.get(db.connection)
    if cursor is None:
        with db.wrap_database_errors:
            cursor = _cursors[db.connection] = DriverCursor(db)
    return cursor
