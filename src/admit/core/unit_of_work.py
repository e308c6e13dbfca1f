"""A flow's unit of work: its transaction, the writes held until its end, and what must still
happen when it is refused.

``run`` wraps one flow (``admit.audit.log.audited`` is the flow runner built on it, with the
flow's audit record as its last write):

1. the flow runs, in one transaction (a savepoint inside a caller's), or, ``deferred``, reading
   outside any transaction;
2. the writes it held (``insert_later``, ``update_later``, ``execute_later``: rows that nothing
   reads back before the end, such as an audit row, a queued e-mail, a rate count, a new
   session) are sent at its end, after the ``before_commit`` hooks (which count last, to hold
   a counter's row lock only until the commit) and the runner's last write;
3. a refusal (an ``AdmitError``) rolls all of that back; then, in a transaction of its own, the
   ``after_refusal`` hooks run (counts that must survive the refusal) and the runner writes
   the refusal's record.

A **deferred** flow makes every write of its own through the held writes, so it holds no
transaction and no lock while it works (a log-in spends tens of milliseconds hashing a
password) and its writes land together, in one transaction, at its end. Inside a deferred flow,
``records_only`` says those writes are records that no later request relies on (the audit
row, counts, a last-seen time): on PostgreSQL they are then sent as one statement whose commit
does not wait for the disk, and, with a guard, land only while the guard holds.

A held statement may be one that **must change** a row (``execute_later(...,
must_change=True)``): a conditional UPDATE that takes something only if nobody took it first.
If it changes none, nothing of the batch is written and the flow raises ``GuardFailed``: a
deferred flow checks when it reads and is held to it when it writes, in the same round trip.

A held row may refer to one held before it: ``insert_later(event, session_id=session)``
fills the column with the earlier row's primary key as the statement runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.db import DatabaseError, IntegrityError, connection, models, transaction

from admit.core import sql
from admit.core.errors import AdmitError

M = TypeVar("M", bound=models.Model)

# What admit_require() raises (core migration 0002) when its condition is not true.
_GUARD_FAILED_SQLSTATE = "AD001"


class GuardFailed(Exception):
    """A guarded batch found its guard false, or a held write that must change a row changed
    none: nothing of the batch was written."""


@dataclass(frozen=True)
class _Held:
    """One held write: a statement as it is, or the INSERT of ``row`` (made when it is sent,
    so that it can refer to rows inserted before it in the same statement or transaction)."""

    statement: str = ""
    params: Sequence[Any] = ()
    row: models.Model | None = None
    key_of: dict[str, models.Model] = field(default_factory=dict)
    must_change: bool = False  # the statement must change a row, else nothing is written


@dataclass
class UnitOfWork:
    held: list[_Held] = field(default_factory=list)
    before_commit: list[Callable[[], object]] = field(default_factory=list)
    after_refusal: list[Callable[[], object]] = field(default_factory=list)
    # What a unique-constraint violation among the held writes means.
    on_conflict: Callable[[IntegrityError], Exception] | None = None
    records: bool = False
    guard: sql.Statement | None = None


_current: ContextVar[UnitOfWork | None] = ContextVar("admit_unit_of_work", default=None)


def current() -> UnitOfWork:
    work = _current.get()
    assert work is not None, "called outside a flow (admit.audit.log.audited)"
    return work


def before_commit(hook: Callable[[], object]) -> None:
    current().before_commit.append(hook)


def after_refusal(hook: Callable[[], object]) -> None:
    current().after_refusal.append(hook)


def on_conflict(meaning: Callable[[IntegrityError], Exception]) -> None:
    current().on_conflict = meaning


def records_only(guard: sql.Statement | None = None) -> None:
    """The deferred flow's held writes are records (see the module's docstring). ``guard``
    (PostgreSQL): a boolean SQL expression and its parameters, standing for what the flow
    took on trust instead of reading it; if it is false when the records are written, none is
    and the flow raises ``GuardFailed``."""
    work = current()
    assert guard is None or connection.vendor == "postgresql", "guards are PostgreSQL's"
    work.records, work.guard = True, guard


def execute_later(statement: str, params: Sequence[Any], *, must_change: bool = False) -> None:
    """Send a statement whose answer nobody needs at the end of the flow (at once outside one).
    ``must_change``: if it changes no row, none of the flow's held writes is made and the flow
    raises ``GuardFailed`` (outside a flow: it raises, after the statement)."""
    work = _current.get()
    if work is None:
        if not sql.execute(statement, params) and must_change:
            raise GuardFailed
    else:
        work.held.append(_Held(statement, params, must_change=must_change))


def insert_later(obj: M, **key_of: models.Model) -> M:
    """INSERT ``obj``, as it is when the flow ends, with the flow's held writes; its primary
    key stays unset. ``key_of`` sets columns (by attribute name) to the primary key of other
    rows, held before it or not."""
    for attname, target in list(key_of.items()):
        if target.pk is not None:
            setattr(obj, attname, target.pk)
            del key_of[attname]
    work = _current.get()
    if work is None:
        sql.execute(*sql.insert(obj, {name: _held_key(row) for name, row in key_of.items()}))
    else:
        work.held.append(_Held(row=obj, key_of=key_of))
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def update_later(obj: models.Model, *, must_change: bool = False, **values: object) -> None:
    """Set ``values`` (by field name) on ``obj`` now, and on its row with the held writes.
    ``must_change``: the row must still be there (``execute_later``)."""
    for name, value in values.items():
        setattr(obj, cast(models.Field, obj._meta.get_field(name)).attname, value)
    execute_later(*sql.update(obj, list(values)), must_change=must_change)


def _held_key(obj: models.Model) -> sql.Statement:
    """A held row's primary key, found by the first unique field it has a value for."""
    for candidate in sql.concrete_fields(type(obj)):
        value = getattr(obj, candidate.attname)
        if candidate.unique and not candidate.primary_key and value is not None:
            return sql.KeyOf(type(obj), candidate.name, value).fragment()
    raise ValueError(f"{type(obj).__name__} has no unique field to be found by")


@contextmanager
def run(
    *,
    last: Callable[[], object] | None = None,
    on_refusal: Callable[[AdmitError], object] | None = None,
    deferred: bool = False,
) -> Iterator[UnitOfWork]:
    """One flow's unit of work: ``last`` is its last write on success, ``on_refusal`` its
    write after a refusal (see the module's docstring); a caller that writes its own records
    inside the block gives neither."""
    work = UnitOfWork()
    outermost = not connection.in_atomic_block
    token = _current.set(work)
    try:
        try:
            with nullcontext() if deferred and outermost else transaction.atomic():
                yield work
                for hook in work.before_commit:
                    hook()
                if last is not None:
                    last()
                _flush(work)
        except AdmitError as error:
            refusal = UnitOfWork()
            _current.set(refusal)
            with transaction.atomic():
                for hook in work.after_refusal:
                    hook()
                if on_refusal is not None:
                    on_refusal(error)
                _flush(refusal)
            raise
    finally:
        _current.reset(token)


def _flush(work: UnitOfWork) -> None:
    """Send the held writes: in the flow's transaction, or, for a deferred flow, as one
    transaction of their own (on PostgreSQL, one statement)."""
    held, work.held = work.held, []
    if not held and work.guard is None:
        return
    try:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            sql.execute(*_as_one_statement(held, work.records, work.guard))
            return
        with transaction.atomic(savepoint=False):
            if work.guard is not None:
                sql.execute(f"SELECT admit_require({work.guard[0]})", work.guard[1])
            for write in held:
                if write.row is None:
                    if not sql.execute(write.statement, write.params) and write.must_change:
                        raise GuardFailed  # the atomic block undoes what came before
                else:
                    references = {name: _held_key(row) for name, row in write.key_of.items()}
                    sql.execute(*sql.insert(write.row, references))
    except IntegrityError as error:
        if work.on_conflict is None:
            raise
        raise work.on_conflict(error) from error
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == _GUARD_FAILED_SQLSTATE:
            raise GuardFailed from error
        raise


def _as_one_statement(
    held: list[_Held], records: bool, guard: sql.Statement | None
) -> sql.Statement:
    """The writes as the clauses of one ``WITH`` statement, which is its own transaction: one
    round trip, and one plan that PostgreSQL prepares once per connection for each shape of
    flow. A row inserted by one clause is referred to by a later one through its RETURNING.
    PostgreSQL runs every data-modifying clause whether or not the final SELECT reads it, and
    an error anywhere (a unique index, a false guard) undoes them all. The clauses read one
    snapshot, so such a batch must not write one row twice. A write that must change a row
    returns what it changed, and the final SELECT requires that it is something. ``records``:
    nothing later relies on these rows, so the commit does not wait for the disk."""
    clause_of: dict[int, int] = {}  # id() of a held row -> the number of the clause inserting it
    returning: dict[int, str] = {}  # clause number -> what it returns (a key column, or 1)
    texts: list[str] = []
    params: list[Any] = []
    required: list[str] = []  # what the final SELECT requires
    for number, write in enumerate(held):
        if write.row is None:
            texts.append(write.statement)
            params.extend(write.params)
            if write.must_change:
                returning[number] = "1"
                required.append(f"EXISTS (SELECT 1 FROM write{number})")  # noqa: S608
            continue
        references = {}
        for name, row in write.key_of.items():
            earlier = clause_of.get(id(row))
            if earlier is None:
                references[name] = _held_key(row)
            else:
                key = returning[earlier] = sql.primary_key(type(row))
                references[name] = (f"(SELECT {key} FROM write{earlier})", [])  # noqa: S608
        statement, values = sql.insert(write.row, references)
        clause_of[id(write.row)] = number
        texts.append(statement)
        params.extend(values)
    clauses = ", ".join(
        f"write{number} AS ({text}"
        + (f" RETURNING {returning[number]})" if number in returning else ")")
        for number, text in enumerate(texts)
    )
    final = ["1"]
    if records:
        final.append("set_config('synchronous_commit', 'off', true)")
    if guard:
        required.append(guard[0])
        params.extend(guard[1])
    final.extend(f"admit_require({condition})" for condition in required)
    head = f"WITH {clauses} " if clauses else ""
    return f"{head}SELECT {', '.join(final)}", params  # noqa: S608 (columns and placeholders)
