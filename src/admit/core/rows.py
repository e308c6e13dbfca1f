"""Reads and writes on the hot paths, without the ORM's per-statement cost.

The ORM builds a statement's SQL anew for every query, which on the sign-up, log-in and
remote-link paths cost more CPU than the database spent answering. For reads written out by
hand, ``columns`` gives a model's select list and ``load`` turns those columns of a result
row back into a model instance, with the same conversions the ORM applies (SQLite keeps
UUIDs, booleans and datetimes as text and numbers).

Those reads go through ``fetch_one`` and ``fetch_all``: on PostgreSQL each is a prepared
statement, which the server parses and plans once per connection instead of on every request
(on the remote-link lookup, planning was more than half of the database's CPU), run by one
libpq call (``admit.core.prepared``).

Rows that nothing reads back before the commit (the audit row, a queued e-mail, a
confirmation, a rate-limit count, a new session) are written ``at_commit``, each model's
INSERT built once: inside ``batched()`` (which ``admit.audit.log.audited`` opens around every
flow) they are kept and sent together by ``flush()`` at the end of the flow, in one round
trip on PostgreSQL: with no transaction open, as prepared statements in libpq's pipeline
mode, which run as one transaction (``admit.core.prepared``); inside a caller's transaction,
as one text of statements separated by ``;`` (the simple-query protocol). A held row can
refer to one held before it (``KeyOf``). Outside ``batched()`` they are written at once. All
of them keep every write in the flow's transaction. A flow whose writes are only records
(``records_only``) sends them as one prepared statement instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from admit.core.prepared import DriverCursor, PipelineCursor, Statement, driver_cursor

M = TypeVar("M", bound=models.Model)


@dataclass
class _Batch:
    statements: list[Statement] = dataclasses.field(default_factory=list)
    records_only: bool = False
    guard: Statement | None = None  # a condition the records stand on (records_only)
    has_references: bool = False  # a held row refers to another (KeyOf)


class GuardFailed(Exception):
    """A guarded batch of records found its guard false when it ran: nothing was written."""


# What admit_require() raises (core migration 0002) when its condition is not true.
_GUARD_FAILED_SQLSTATE = "AD001"


_pending: ContextVar[_Batch | None] = ContextVar("admit_pending_writes", default=None)


@dataclass(frozen=True)
class _Insert:
    head: str  # "INSERT INTO table (every column but an automatic primary key) VALUES "
    sql: str  # the head and one placeholder per column
    fields: list[models.Field]


@dataclass(frozen=True)
class KeyOf:
    """The primary key of the row of ``model`` whose unique ``field`` is ``value``, looked up by
    the database as the statement runs: a reference to a row written earlier in the same batch,
    whose key nobody knows yet."""

    model: type[models.Model]
    field: str
    value: Any

    def sql(self) -> str:
        meta, quote = self.model._meta, connection.ops.quote_name
        column = quote(cast(models.Field, meta.get_field(self.field)).column)
        key = quote(cast(models.Field, meta.pk).column)
        return f"(SELECT {key} FROM {quote(meta.db_table)} WHERE {column} = %s)"  # noqa: S608

    def param(self) -> Any:
        return param(self.model, self.field, self.value)


def param(model: type[models.Model], field: str, value: Any) -> Any:
    """``value`` as the database takes it in ``model``'s ``field``: a parameter of a statement
    written out (a UUID is text on SQLite, a uuid on PostgreSQL)."""
    return cast(models.Field, model._meta.get_field(field)).get_db_prep_value(value, _db())


_inserts: dict[tuple[type[models.Model], str], _Insert] = {}


def _insert_of(model: type[models.Model]) -> _Insert:
    key = (model, connection.vendor)
    if key not in _inserts:
        meta, quote = model._meta, connection.ops.quote_name
        auto_pk = isinstance(meta.pk, models.AutoField | models.BigAutoField)
        fields = [f for f in meta.concrete_fields if not (auto_pk and f.primary_key)]
        # Only the model's own table and column names go into the text; values are parameters.
        columns = ", ".join(quote(f.column) for f in fields)
        head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        sql = head + "(" + ", ".join(["%s"] * len(fields)) + ")"
        _inserts[key] = _Insert(head, sql, fields)
    return _inserts[key]


@dataclass(frozen=True)
class _Load:
    attnames: list[str]
    # (position, converters) for the columns the database hands back in another type
    converters: list[tuple[int, list[Any]]]
    expressions: list[Any]


_loads: dict[tuple[type[models.Model], str], _Load] = {}


def _load_of(model: type[models.Model]) -> _Load:
    key = (model, connection.vendor)
    if key not in _loads:
        fields = model._meta.concrete_fields
        expressions = [field.get_col(model._meta.db_table) for field in fields]
        converters = [
            (position, found)
            for position, expression in enumerate(expressions)
            # what the ORM's compiler applies: the backend's, then the field's own
            if (
                found := connection.ops.get_db_converters(expression)
                + expression.get_db_converters(connection)
            )
        ]
        _loads[key] = _Load([field.attname for field in fields], converters, expressions)
    return _loads[key]


def columns(model: type[models.Model], alias: str) -> str:
    """The select list of every concrete column of ``model`` under the table alias ``alias``,
    in the order ``load`` expects them."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def width(model: type[models.Model]) -> int:
    """How many columns ``columns(model, ...)`` selects."""
    return len(model._meta.concrete_fields)


def _db() -> BaseDatabaseWrapper:
    """The connection itself: every attribute read through the ``django.db.connection`` proxy
    is a thread-local lookup, and converting a row's values reads dozens."""
    return connections[DEFAULT_DB_ALIAS]


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    """The first row of a hand-written read, prepared on PostgreSQL."""
    with _reading_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Every row of a hand-written read, prepared on PostgreSQL."""
    with _reading_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@contextmanager
def _reading_cursor() -> Iterator[CursorWrapper]:
    """Django's cursor, on PostgreSQL around the connection's ``DriverCursor``: Django's
    wrapper keeps query logging, ``execute_wrapper`` hooks and its error types as for any
    query."""
    db = _db()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    yield _wrapped(db, _driver(db))


def _driver(db: BaseDatabaseWrapper) -> DriverCursor:
    db.validate_thread_sharing()
    db.ensure_connection()
    return driver_cursor(db)


def _wrapped(db: BaseDatabaseWrapper, cursor: Any) -> CursorWrapper:
    """Django's wrapper around a DB-API cursor (the stubs want a psycopg one)."""
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


def load(model: type[M], values: Sequence[Any]) -> M:
    """The instance of ``model`` whose ``columns`` a query returned as ``values``."""
    spec, db = _load_of(model), _db()
    converted = list(values)
    for position, converters in spec.converters:
        for converter in converters:
            converted[position] = converter(converted[position], spec.expressions[position], db)
    return cast(M, model.from_db(DEFAULT_DB_ALIAS, spec.attnames, converted))


# Fields whose value of this exact type the driver takes as it is: the ORM's conversion
# (four calls deep per field) would hand back the same value.
_PLAIN: dict[type[models.Field], type] = {
    models.CharField: str,
    models.EmailField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
}


def _values(obj: models.Model, fields: list[models.Field]) -> list[Any]:
    db = _db()
    values = []
    for field in fields:
        value = field.pre_save(obj, True)
        if type(value) is not _PLAIN.get(type(field)):
            value = field.get_db_prep_save(value, db)
        values.append(value)
    return values


def _saved(obj: models.Model) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_at_commit(obj: M, **references: KeyOf) -> M:
    """INSERT ``obj`` with the flow's other late writes; its primary key stays unset.
    ``references`` set columns (by attribute name, ``session_id``) to rows held earlier in the
    same batch."""
    statement = _insert_of(type(obj))
    values = _values(obj, statement.fields)
    sql = statement.sql
    if references:
        placeholders = []
        for position, field in enumerate(statement.fields):
            reference = references.get(field.attname)
            placeholders.append(reference.sql() if reference else "%s")
            if reference:
                values[position] = reference.param()
        sql = statement.head + "(" + ", ".join(placeholders) + ")"
        if batch := _pending.get():
            batch.has_references = True
    execute_at_commit(sql, values)
    _saved(obj)
    return obj


def update_at_commit(obj: models.Model, **values: Any) -> None:
    """Set ``values`` (by field name) on ``obj`` now and on its row with the late writes."""
    meta, quote = obj._meta, connection.ops.quote_name
    fields = [cast(models.Field, meta.get_field(name)) for name in values]
    for field, value in zip(fields, values.values(), strict=True):
        setattr(obj, field.attname, value)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    key_column = quote(cast(models.Field, meta.pk).column)
    execute_at_commit(
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {key_column} = %s",  # noqa: S608
        [*_values(obj, fields), obj.pk],
    )


def execute_at_commit(sql: str, params: Sequence[Any]) -> None:
    """Run a statement whose answer nobody needs at the end of the flow, or now outside one."""
    batch = _pending.get()
    if batch is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        batch.statements.append((sql, params))


def records_only(guard: Statement | None = None) -> None:
    """Say that the flow's held writes are records of what was done (an audit row, a rate
    count, a last-seen time): no later request relies on them and none refers to another.

    On PostgreSQL, outside a transaction, ``flush`` then sends them as one prepared statement,
    each write a clause of its ``WITH`` (parsed and planned once per connection, not on every
    request), and the commit returns before its WAL reaches the disk (``synchronous_commit``
    off for that one transaction). A crash of PostgreSQL itself within ``wal_writer_delay``
    (200 ms by default) can lose them; a crash of admit cannot, and nothing is ever
    half-written. The clauses of one statement all read one snapshot, so such a batch must not
    write one row twice.

    ``guard`` (PostgreSQL only): a boolean SQL expression and its parameters, standing for
    what the flow took on trust instead of reading it. The records land only if it is true
    when they are written; otherwise none does and ``flush`` raises ``GuardFailed``.
    """
    batch = _pending.get()
    assert batch is not None, "records_only() is for a flow inside batched()"
    assert guard is None or connection.vendor == "postgresql", "guards are PostgreSQL's"
    batch.records_only, batch.guard = True, guard


@contextmanager
def batched() -> Iterator[None]:
    """Keep ``*_at_commit`` writes until ``flush()``; what is not flushed is dropped, as the
    transaction it belonged to is being rolled back."""
    token = _pending.set(_Batch())
    try:
        yield
    finally:
        _pending.reset(token)


def flush(commit: bool = False) -> None:
    """Send the held writes, as one transaction of their own when no transaction is open.

    ``commit``: the caller's outermost atomic block ends right after; on PostgreSQL its COMMIT
    then goes in the same round trip, and the driver, which sees the connection idle, sends no
    second one when Django commits. With no transaction open, PostgreSQL runs the statements
    of one round trip as one implicit transaction: no BEGIN or COMMIT is sent at all.
    """
    batch = _pending.get()
    if batch is None or not batch.statements:
        return
    statements, batch.statements = batch.statements, []
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
        return
    try:
        _send(statements, batch, commit)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == _GUARD_FAILED_SQLSTATE:
            raise GuardFailed from error
        raise


def _send(statements: list[Statement], batch: _Batch, commit: bool) -> None:
    if not connection.in_atomic_block:
        if batch.records_only:
            assert not batch.has_references, "records refer to no other row of their batch"
            fetch_one(*_as_one_statement(statements, batch.guard))
        else:
            _run_pipeline(statements)
        return
    start = ["SET LOCAL synchronous_commit TO OFF"] if batch.records_only else []
    end = ["COMMIT"] if commit and connection.in_atomic_block else []
    with connection.cursor() as cursor:
        # Each statement merged with its values on its own, as the driver would: it parses a
        # statement's placeholders once and remembers them, but not for a text as long as
        # the whole batch, which it would parse anew every time.
        merge = cursor.cursor.mogrify
        if batch.guard:
            start.append(merge(f"SELECT admit_require({batch.guard[0]})", batch.guard[1]))
        cursor.execute(
            ";\n".join([*start, *(merge(sql, params) for sql, params in statements), *end])
        )


def _run_pipeline(statements: list[Statement]) -> None:
    """The statements as one transaction of prepared statements in one round trip
    (``DriverCursor.run_pipeline``), through Django's cursor wrapper like any query."""
    db = _db()
    _wrapped(db, PipelineCursor(_driver(db))).execute("pipeline", statements)


def _as_one_statement(statements: list[Statement], guard: Statement | None) -> Statement:
    """Independent writes as the ``WITH`` clauses of one statement, which commits without
    waiting for the disk when it runs as its own transaction. PostgreSQL runs every
    data-modifying clause whether or not the final SELECT reads it; an error in that SELECT
    (a false guard) undoes them all."""
    clauses = ", ".join(f"write{number} AS ({sql})" for number, (sql, _) in enumerate(statements))
    params = [value for _, values in statements for value in values]
    final = "set_config('synchronous_commit', 'off', true)"
    if guard:
        final = f"admit_require({guard[0]}), {final}"
        params += guard[1]
    return f"WITH {clauses} SELECT {final}", params  # noqa: S608 (columns and placeholders)
