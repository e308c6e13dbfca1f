"""Writing the audit log.

``audited`` wraps a flow: the flow runs in a transaction and its success row is written in
that same transaction; when the flow raises an ``AdmitError`` the transaction rolls back and
the failure row is written after it, so refused attempts are on record too. Other writes
that must survive a refusal (a failed log-in's count) go in ``after_refusal``; writes that
lock a hot row (a rate-limit counter) go in ``before_commit``, to hold the lock briefly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connection, transaction

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
def audited(event: str, caller: Caller, app: str = "") -> Iterator[AuditEntry]:
    entry = AuditEntry(event=event, caller=caller, app=app)
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic(), rows.batched():
            yield entry
            for write in entry.before_commit:
                write()
            entry.write(AuditEvent.Outcome.OK)
            rows.flush(commit=outermost)
    except AdmitError as error:
        with transaction.atomic(), rows.batched():
            for write in entry.after_refusal:
                write()
            entry.write(AuditEvent.Outcome.ERROR, ",".join(error.codes))
            rows.flush(commit=outermost)
        raise
