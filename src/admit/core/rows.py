"""Writes on the hot paths, without the ORM's per-statement cost.

The ORM builds an INSERT's SQL anew for every row, which on the sign-up and log-in paths cost
more CPU than the database spent on the statement. ``insert`` builds each model's statement
once and reuses it.

Rows that nothing reads back before the commit (the audit row, a queued e-mail, a
confirmation, a rate-limit count) can instead be written ``at_commit``: inside ``batched()``
(which ``admit.audit.log.audited`` opens around every flow) they are kept and sent together by
``flush()`` just before the commit, in one round trip on PostgreSQL, whose simple-query
protocol takes several statements separated by ``;``. Outside ``batched()`` they are written
at once. Both keep every write in the flow's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import connection, models

Statement = tuple[str, Sequence[Any]]
M = TypeVar("M", bound=models.Model)

_pending: ContextVar[list[Statement] | None] = ContextVar("admit_pending_writes", default=None)


@dataclass(frozen=True)
class _Insert:
    sql: str  # every column but an automatic primary key
    returning: str  # the clause that answers with that key, where the database has one
    fields: list[models.Field]


_inserts: dict[tuple[type[models.Model], str], _Insert] = {}


def _insert_of(model: type[models.Model]) -> _Insert:
    key = (model, connection.vendor)
    if key not in _inserts:
        meta, quote = model._meta, connection.ops.quote_name
        auto_pk = isinstance(meta.pk, models.AutoField | models.BigAutoField)
        fields = [f for f in meta.concrete_fields if not (auto_pk and f.primary_key)]
        # Only the model's own table and column names go into the text; values are parameters.
        columns = ", ".join(quote(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        returning = ""
        if auto_pk and connection.features.can_return_columns_from_insert:
            returning = f" RETURNING {quote(meta.pk.column)}"  # type: ignore[union-attr]
        _inserts[key] = _Insert(sql, returning, fields)
    return _inserts[key]


def _values(obj: models.Model, fields: list[models.Field]) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def _saved(obj: models.Model) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias


def insert(obj: M) -> M:
    """INSERT ``obj`` now, like ``obj.save()`` for a new row, and set its primary key."""
    statement = _insert_of(type(obj))
    with connection.cursor() as cursor:
        cursor.execute(statement.sql + statement.returning, _values(obj, statement.fields))
        if obj.pk is None:
            obj.pk = cursor.fetchone()[0] if statement.returning else cursor.lastrowid
    _saved(obj)
    return obj


def insert_at_commit(obj: M) -> M:
    """INSERT ``obj`` with the flow's other late writes; its primary key stays unset."""
    statement = _insert_of(type(obj))
    execute_at_commit(statement.sql, _values(obj, statement.fields))
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
    pending = _pending.get()
    if pending is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        pending.append((sql, params))


@contextmanager
def batched() -> Iterator[None]:
    """Keep ``*_at_commit`` writes until ``flush()``; what is not flushed is dropped, as the
    transaction it belonged to is being rolled back."""
    token = _pending.set([])
    try:
        yield
    finally:
        _pending.reset(token)


def flush() -> None:
    pending = _pending.get()
    if not pending:
        return
    statements, pending[:] = list(pending), []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                ";\n".join(sql for sql, _ in statements),
                [value for _, params in statements for value in params],
            )
        else:
            for sql, params in statements:
                cursor.execute(sql, params)
