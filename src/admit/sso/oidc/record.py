"""The provider's audit rows: one per authorization, consent, token issue, refresh, reuse,
revocation and logout. They name the client and the person, never a code or a token."""

from __future__ import annotations

from admit.audit.models import AuditEvent
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.sso.oidc.models import Client


def record(
    event: str,
    caller: Caller,
    client: Client | None,
    user_id: str = "",
    *,
    client_id: str = "",
    refused: str = "",
    **details: str,
) -> None:
    """One audit row. ``refused``: the OAuth error the client was told (``invalid_grant``…).
    Written at once, or, inside a unit of work (the refresh grant's), with its other writes."""
    extra: dict[str, str] = {"client_id": client.client_id if client else client_id, **details}
    row = AuditEvent(
        created_at=clock.now(),
        event=event,
        outcome=AuditEvent.Outcome.ERROR if refused else AuditEvent.Outcome.OK,
        error_codes=refused[:128],
        target_user_id=user_id,
        remote_ip=caller.remote_ip,
        app=client.app if client else "",
        cid=caller.cid,
        extra_data=extra,
    )
    unit_of_work.insert_later(row)
