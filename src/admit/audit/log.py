"""Writing the audit log: one row for every flow, whether it succeeds or is refused.

``audited`` is the flow runner: it runs a flow in a unit of work (``admit.core.unit_of_work``)
whose last write is the flow's audit row. A success's row is written in the flow's own
transaction; a refusal rolls that back and its row (with the true codes, whatever the caller
was shown) is written after it, so refused attempts are on record too. ``AuditEntry`` is what
the flow learns about its event while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from admit.audit.models import AuditEvent
from admit.core import clock, unit_of_work
from admit.core.context import Caller


@dataclass
class AuditEntry:
    """Who acted, on whom, for which app, and what else the operator should know."""

    event: str
    caller: Caller
    app: str = ""
    actor_user_id: str = ""
    target_user_id: str = ""
    extra_data: dict[str, Any] = field(default_factory=dict)
    remote_server_uuid: UUID | None = None
    remote_realm_uuid: UUID | None = None

    def row(self, outcome: str, error_codes: str = "") -> AuditEvent:
        return AuditEvent(
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


@contextmanager
def audited(
    event: str, caller: Caller, app: str = "", *, deferred: bool = False
) -> Iterator[AuditEntry]:
    """Run the flow in the ``with`` block and audit it. ``deferred``: the flow reads outside
    any transaction and makes its writes at its end (``admit.core.unit_of_work``)."""
    entry = AuditEntry(event=event, caller=caller, app=app)
    with unit_of_work.run(
        deferred=deferred,
        last=lambda: unit_of_work.insert_later(entry.row(AuditEvent.Outcome.OK)),
        on_refusal=lambda error: unit_of_work.insert_later(
            entry.row(AuditEvent.Outcome.ERROR, ",".join(error.codes))
        ),
    ):
        yield entry
