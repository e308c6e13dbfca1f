"""The SQL admit writes by hand, and how it runs: what every hand-written statement shares.

A few reads on hot paths are written out rather than built by the ORM, whose Python cost per
query exceeded the database's on those paths; a few writes must be one conditional statement
to be atomic (a rate-limit claim); and the writes a flow holds until its end
(``admit.core.unit_of_work``) are plain INSERTs and UPDATEs. Each app's ``queries.py`` writes
its statements with the helpers here; flows never write SQL.

Everything runs through Django's cursor, so it is logged, hooked and has its errors mapped like
any query. On PostgreSQL admit binds parameters on the server and lets psycopg prepare a
statement from its second use on a connection (``OPTIONS`` in ``admit.settings``): a hot
statement is parsed and planned once per connection, not on every request.

Table and column names come from the models' metadata (``Model._meta``'s documented API);
values are always parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.dateparse import parse_datetime

M = TypeVar("M", bound=models.Model)
Statement = tuple[str, Sequence[Any]]


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> int:
    """Runs one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def database() -> BaseDatabaseWrapper:
    """This thread's connection itself. ``django.db.connection`` is a proxy that looks it up
    again at every attribute; converting a row's fields one by one through it costs more than
    the conversions."""
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    """An identifier quoted as standard SQL does, which PostgreSQL and SQLite both follow."""
    return '"' + name.replace('"', '""') + '"'


def table(model: type[models.Model]) -> str:
    return quote(model._meta.db_table)


def column(model: type[models.Model], field: str) -> str:
    return quote(_field(model, field).column)


def _field(model: type[models.Model], name: str) -> models.Field:
    return cast(models.Field, model._meta.get_field(name))


@cache
def concrete_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The fields with a column of their own, in the model's order."""
    return tuple(
        cast(models.Field, field)
        for field in model._meta.get_fields()
        if field.concrete and not field.many_to_many
    )


@cache
def _named_fields(model: type[models.Model], names: tuple[str, ...]) -> tuple[models.Field, ...]:
    """The fields named, in the model's order (``Model.from_db`` takes a subset in that order)."""
    wanted = {_field(model, name) for name in names}
    return tuple(field for field in concrete_fields(model) if field in wanted)


def _selected(model: type[models.Model], only: tuple[str, ...] | None) -> tuple[models.Field, ...]:
    return concrete_fields(model) if only is None else _named_fields(model, only)


def columns(model: type[models.Model], alias: str, only: tuple[str, ...] | None = None) -> str:
    """The select list of every column of ``model`` (or of the fields named in ``only``, the
    primary key among them) under ``alias``, in ``load``'s order."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in _selected(model, only))


def width(model: type[models.Model], only: tuple[str, ...] | None = None) -> int:
    return len(_selected(model, only))


def param(model: type[models.Model], field: str, value: Any) -> Any:
    """``value`` as the database takes it in ``model``'s ``field`` (a UUID is text on SQLite)."""
    return _field(model, field).get_db_prep_value(value, connection)


def load(model: type[M], values: Sequence[Any], only: tuple[str, ...] | None = None) -> M:
    """The instance of ``model`` whose ``columns`` a query returned as ``values``, converted
    as the ORM would: the field's own ``from_db_value``, and on SQLite, which keeps them as
    numbers and text, booleans, datetimes and UUIDs. With ``only``, the other fields are
    deferred, as with the ORM's ``only()``: reading one makes a query."""
    fields, db = _selected(model, only), database()
    converted = [_from_db(field, value, db) for field, value in zip(fields, values, strict=True)]
    return model.from_db(db.alias, [field.attname for field in fields], converted)


def load_value(model: type[models.Model], field: str, value: Any) -> Any:
    """One column's ``value`` as ``model``'s ``field`` holds it (see ``load``)."""
    return _from_db(_field(model, field), value, database())


def _from_db(field: models.Field, value: Any, db: BaseDatabaseWrapper) -> Any:
    if value is None:
        return None
    from_db_value = getattr(field, "from_db_value", None)
    if from_db_value is not None:
        return from_db_value(value, None, db)
    if isinstance(field, models.BooleanField):
        return bool(value)
    if isinstance(field, models.DateTimeField) and not isinstance(value, datetime):
        value = parse_datetime(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite keeps UTC without its offset
    if isinstance(field, models.UUIDField) and not isinstance(value, uuid.UUID):
        return uuid.UUID(value)
    return value


@dataclass(frozen=True)
class KeyOf:
    """The primary key of the row of ``model`` whose unique ``field`` is ``value``, looked up
    by the database as the statement runs: a reference to a row written earlier in the same
    transaction, whose key nobody knew when the statement was made."""

    model: type[models.Model]
    field: str
    value: Any

    def fragment(self) -> Statement:
        key = primary_key(self.model)
        where = f"{column(self.model, self.field)} = %s"
        sql = f"(SELECT {key} FROM {table(self.model)} WHERE {where})"  # noqa: S608
        return sql, [param(self.model, self.field, self.value)]


def primary_key(model: type[models.Model]) -> str:
    return quote(cast(models.Field, model._meta.pk).column)


@cache
def _insertable(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT names: all but an automatic primary key."""
    return tuple(
        field
        for field in concrete_fields(model)
        if not (field.primary_key and isinstance(field, models.AutoField | models.BigAutoField))
    )


def insert(obj: models.Model, references: dict[str, Statement] | None = None) -> Statement:
    """The INSERT of ``obj``; ``references`` set columns (by attribute name) to an SQL
    expression and its parameters (another row's primary key)."""
    fields, db = _insertable(type(obj)), database()
    references = references or {}
    placeholders: list[str] = []
    values: list[Any] = []
    for field in fields:
        reference = references.get(field.attname)
        if reference is not None:
            placeholders.append(reference[0])
            values.extend(reference[1])
        else:
            placeholders.append("%s")
            values.append(field.get_db_prep_save(field.pre_save(obj, True), db))
    sql = f"{_insert_into(type(obj))} VALUES ({', '.join(placeholders)})"
    return sql, values


@cache
def _insert_into(model: type[models.Model]) -> str:
    names = ", ".join(quote(field.column) for field in _insertable(model))
    return f"INSERT INTO {table(model)} ({names})"


def update(obj: models.Model, fields: Sequence[str]) -> Statement:
    """The UPDATE of ``obj``'s ``fields`` (by name) to their values on ``obj``."""
    model = type(obj)
    targets = [_field(model, name) for name in fields]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in targets)
    db = database()
    values = [field.get_db_prep_save(field.pre_save(obj, False), db) for field in targets]
    key = primary_key(model)
    return f"UPDATE {table(model)} SET {assignments} WHERE {key} = %s", [*values, obj.pk]  # noqa: S608
