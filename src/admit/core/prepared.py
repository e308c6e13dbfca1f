"""Prepared statements on PostgreSQL, run by libpq directly: a hot read in one call, a flow's
writes in one pipeline.

psycopg's cursor runs a statement as a generator of Python steps around libpq (start the
query, decide whether to prepare it, send it, wait, fetch and check each result); on the hot
paths that cost the client more CPU than PostgreSQL spent answering. ``DriverCursor`` sends a
prepared statement's name and parameters in one blocking libpq call, dumping the parameters
and loading the rows with psycopg's own adapters (in C with ``psycopg[binary]``), the same
adapters and time zone Django's cursors use. ``DriverCursor.run_pipeline`` sends several
prepared statements in libpq's pipeline mode, followed by one Sync: one round trip, one
implicit transaction, and PostgreSQL neither parses nor plans them again (for a sign-up's
writes that was a third of the database's CPU, and merging the values into the text on the
client cost more than the rest of the write).

Each connection prepares each statement once; a new connection (Django replaces a broken
one) gets a cursor, and statements, of its own. psycopg itself prepares nothing (Django turns
that off): after a rollback it would send DEALLOCATE ALL, dropping these statements along
with its own.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import cache
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq.abc import PGconn, PGresult

Statement = tuple[str, Sequence[Any]]
_Key = tuple[str, tuple[int, ...]]  # a statement and the types of its parameters
# a statement, its parameters as the driver sends them, its key and the parameters' formats
_Dumped = tuple[str, Sequence[Any], "_Key", Sequence[pq.Format] | None]
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class _LastQuery:
    """What Django's query log reads of a psycopg cursor's last statement (``_query.query``):
    here, the statement with PostgreSQL's placeholders ($1, $2, ...) for Django's (%s)."""

    def __init__(self, sql: str):
        numbers = iter(range(1, sql.count("%s") + 1))
        self.query = re.sub("%s", lambda _: f"${next(numbers)}", sql).encode()


_last_query = cache(_LastQuery)


class DriverCursor:
    """The DB-API cursor behind Django's cursor wrapper for a hot read (``execute``,
    ``fetchone``, ``fetchall``), and the runner of a flow's writes (``run_pipeline``)."""

    def __init__(self, db: BaseDatabaseWrapper):
        self._conn: psycopg.Connection = db.connection
        # psycopg's own cursor, for a statement that must open Django's transaction first
        # (its BEGIN carries the connection's isolation level; the statement is not prepared
        # then), and the adapters' context.
        self._opening = psycopg.Cursor(self._conn)
        register_tzloader(db.timezone, self._opening)
        self._adapters = Transformer(self._opening)
        self._names: dict[_Key, bytes] = {}
        self._numbers = itertools.count()
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
        values, key, formats = self._dump(sql, params)
        with self._conn.lock:
            name = self._names.get(key)
            if name is None:
                name = self._new_name()
                self._check(pgconn.prepare(name, self._query.query, key[1]))
                self._names[key] = name
            # None among the values is NULL, which the stubs leave out
            result = pgconn.exec_prepared(name, values, formats)  # type: ignore[arg-type]
        self._check(result)
        adapters.set_pgresult(result)
        self._rows = adapters.load_rows(0, result.ntuples, tuple)

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple]:
        found, self._rows = self._rows, []
        return found

    def run_pipeline(self, statements: Sequence[Statement]) -> None:
        """Run ``statements``, which return no rows, as one transaction in one round trip,
        on a connection in autocommit mode. The first error undoes them all and is raised."""
        assert self._conn.autocommit, "a pipeline is its own transaction"
        # Adapted before anything is sent: a value the driver refuses leaves nothing queued.
        dumped = [(sql, *self._dump(sql, params)) for sql, params in statements]
        pgconn = self._conn.pgconn
        with self._conn.lock:
            pgconn.enter_pipeline_mode()
            try:
                commands = self._queue(pgconn, dumped)
                pgconn.pipeline_sync()
                failed = self._first_failure(pgconn, commands)
            finally:
                pgconn.exit_pipeline_mode()
        if failed is not None:
            self._check(failed)

    def _queue(self, pgconn: PGconn, dumped: Sequence[_Dumped]) -> list[tuple[_Key, bytes] | None]:
        """Queue each statement, preceded by its preparation where this connection has none
        yet; returns, per command queued, the statement and name it prepares (None: it runs
        a statement)."""
        commands: list[tuple[_Key, bytes] | None] = []
        preparing: dict[_Key, bytes] = {}
        for sql, values, key, formats in dumped:
            name = self._names.get(key) or preparing.get(key)
            if name is None:
                name = preparing[key] = self._new_name()
                pgconn.send_prepare(name, _last_query(sql).query, key[1])
                commands.append((key, name))
            # None among the values is NULL, which the stubs leave out
            pgconn.send_query_prepared(name, values, formats)  # type: ignore[arg-type]
            commands.append(None)
        return commands

    def _first_failure(
        self, pgconn: PGconn, commands: list[tuple[_Key, bytes] | None]
    ) -> PGresult | None:
        """Read every command's result up to the Sync; keeps the names of the statements
        prepared, and returns the first error (the commands after it are skipped)."""
        failed = None
        for command in commands:
            result = pgconn.get_result()
            if result is None:  # the connection is gone
                raise psycopg.OperationalError(pgconn.get_error_message())
            while pgconn.get_result() is not None:  # a command's results end with None
                pass
            if result.status in _DONE:
                if command is not None:
                    self._names[command[0]] = command[1]
            elif failed is None:
                failed = result
        sync = pgconn.get_result()
        if sync is None or sync.status != pq.ExecStatus.PIPELINE_SYNC:
            raise psycopg.OperationalError(pgconn.get_error_message())
        return failed

    def _dump(
        self, sql: str, params: Sequence[Any]
    ) -> tuple[Sequence[Any], _Key, Sequence[pq.Format] | None]:
        """The parameters as the driver sends them, the statement's key (its text and the
        types of its parameters, which a prepared statement is fixed to), and the parameters'
        formats: everything the adapters leave in their state after one dump."""
        values = self._adapters.dump_sequence(params, [PyFormat.AUTO] * len(params))
        return values, (sql, self._adapters.types or ()), self._adapters.formats

    def _new_name(self) -> bytes:
        return b"admit_%d" % next(self._numbers)

    def _check(self, result: PGresult) -> None:
        if result.status in _DONE:
            return
        if self._conn.pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError(result.get_error_message(self._conn.info.encoding))
        raise psycopg.errors.error_from_result(result, encoding=self._conn.info.encoding)


class PipelineCursor:
    """What Django's cursor wrapper needs of a cursor to run a flow's writes as one
    pipeline (``execute(label, statements)``), so that they are logged, hooked and have
    their errors mapped as any query: the query log shows the statements themselves."""

    def __init__(self, driver: DriverCursor):
        self._driver = driver
        self._statements: Sequence[Statement] = ()

    def execute(self, label: str, statements: Sequence[Statement]) -> None:
        self._statements = statements
        self._driver.run_pipeline(statements)

    @property
    def _query(self) -> SimpleNamespace:
        """Read by Django's query log only (``DEBUG``, or a test counting queries)."""
        return SimpleNamespace(
            query=b";\n".join(_last_query(sql).query for sql, _ in self._statements)
        )


_cursors: WeakKeyDictionary[psycopg.Connection, DriverCursor] = WeakKeyDictionary()


def driver_cursor(db: BaseDatabaseWrapper) -> DriverCursor:
    """The connection's cursor for hot reads and pipelines; ``db`` is connected."""
    cursor = _cursors.get(db.connection)
    if cursor is None:
        with db.wrap_database_errors:
            cursor = _cursors[db.connection] = DriverCursor(db)
    return cursor
