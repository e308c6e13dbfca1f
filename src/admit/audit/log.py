"""Writing the audit log.

``audited`` wraps a flow: the flow runs in a transaction and its success row is written in
that same transaction; when the flow raises an ``AdmitError`` the transaction rolls back and
the failure row is written after it, so refused attempts are on record too. Other writes
that must survive a refusal (a failed log-in's count) go in ``after_refusal``; writes that
lock a hot row (a rate-limit counter) go in ``before_commit``, to hold the lock briefly.

A flow whose every write is a ``rows.*_at_commit`` may say ``batch_only=True``: its reads then
run outside a transaction and its writes reach the database together, as one transaction, at
its end (on PostgreSQL, one round trip and no BEGIN). Any other write it made would be
committed at once, on its own. A unique-constraint violation in that last batch is handed to
``AuditEntry.on_conflict``, which names the refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction

from admit.audit.models import AuditEvent
from admit.core import clock, rows
from admit.core.context import Caller
from admit.core.errors import AdmitError


@dataclass
class AuditEntry:
    """What a flow learns about its event while it runs: who acted, on whom, for which app."""

    event: str
    caller: Caller
    app: str = ""
    actor_user_id: str = ""
    target_user_id: str = ""
    extra_data: dict[str, Any] = field(default_factory=dict)
    remote_server_uuid: UUID | None = None
    remote_realm_uuid: UUID | None = None
    after_refusal: list[Callable[[], object]] = field(default_factory=list)
    # Run last inside the transaction, so any row they lock stays locked only until commit.
    before_commit: list[Callable[[], object]] = field(default_factory=list)
    # What a unique-constraint violation of the flow's batched writes means (batch_only).
    on_conflict: Callable[[IntegrityError], Exception] | None = None

    def write(self, outcome: str, error_codes: str = "") -> None:
        rows.insert_at_commit(
            AuditEvent(
                created_at=clock.now(),
                event=self.event,
                outcome=outcome,
                error_codes=error_codes,
                actor_user_id=self.actor_user_id,
                target_user_id=self.target_user_id,
                remote_ip=self.caller.remote_ip,
                app=self.app[:128],
                cid=self.caller.cid,
                extra_data=self.extra_data,
                remote_server_uuid=self.remote_server_uuid,
                remote_realm_uuid=self.remote_realm_uuid,
            )
        )


@contextmanager
def audited(
    event: str, caller: Caller, app: str = "", *, batch_only: bool = False
) -> Iterator[AuditEntry]:
    entry = AuditEntry(event=event, caller=caller, app=app)
    outermost = not connection.in_atomic_block
    # Inside a caller's transaction the flow keeps its savepoint, so that a refusal, or a
    # conflict in the batch, leaves the caller's transaction usable.
    lazy = batch_only and outermost
    try:
        with nullcontext() if lazy else transaction.atomic(), rows.batched():
            yield entry
            for write in entry.before_commit:
                write()
            entry.write(AuditEvent.Outcome.OK)
            try:
                rows.flush(commit=outermost)
            except IntegrityError as exc:
                if entry.on_conflict is None:
                    raise
                raise entry.on_conflict(exc) from exc
    except AdmitError as error:
        with transaction.atomic(), rows.batched():
            for write in entry.after_refusal:
                write()
            entry.write(AuditEvent.Outcome.ERROR, ",".join(error.codes))
            rows.flush(commit=outermost)
        raise
