"""What the "my sessions" page needs beyond the API's flows: admit stores no ``ust`` in clear,
so a page names one of the person's other sessions by its id instead."""

from __future__ import annotations

from admit.audit.log import audited
from admit.core.context import Caller
from admit.core.errors import Code, NotFound
from admit.sso.flows.sessions import end_session_of, live_session


def end_session_by_id(ust: str, session_id: int, caller: Caller) -> None:
    """Ends one of the caller's own sessions. Another user's session and one that does not
    exist are refused alike (E005001, HTTP 404), so ids tell nothing about other people;
    E007001/E007002 speak only of the caller's own session."""
    with audited("session.end", caller) as audit:
        current = live_session(ust)
        audit.actor_user_id = current.user.user_id
        audit.target_user_id = current.user.user_id
        if not end_session_of(current.user, session_id):
            raise NotFound(Code.NOT_ALLOWED, "no such session of this user")
        audit.extra_data["session_id"] = session_id
