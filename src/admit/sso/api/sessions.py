"""/zato/sso/user/session and /user/session/list."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from admit.core.secrets import digest
from admit.http.jsonbody import answer, documented_body, read_body
from admit.http.requests import caller_of, cid_of
from admit.http.schemas import ERRORS, utc
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.models import Session, SessionEvent
from admit.sso.schemas import (
    OkOut,
    RenewOut,
    SessionIn,
    SessionListOut,
    SessionListQuery,
    SessionOut,
    SessionQuery,
    UstIn,
    VerifyIn,
    VerifyOut,
)

router = Router(tags=["sessions"])


def _details(session: Session) -> dict[str, object]:
    return {
        "creation_time": utc(session.created_at),
        "expiration_time": utc(session.expires_at),
        # Zato's remote_addr: what the log-in said its user's address was, else the client's.
        "remote_addr": session.remote_addr or session.remote_ip,
        "user_agent": session.user_agent,
        "current_app": session.app,
    }


def _state_changes(session: Session) -> list[dict[str, object]]:
    """Zato's session_state_change_list, from the session's events: its log-in (with the
    address the log-in gave) and each renewal."""
    return [
        {
            "remote_addr": (session.remote_addr or event.remote_ip)
            if event.kind == SessionEvent.Kind.LOGIN
            else event.remote_ip,
            "user_agent": event.user_agent,
            "timestamp_utc": utc(event.at),
            "ctx_source": event.kind,
            "idx": idx,
        }
        for idx, event in enumerate(session.events.all(), start=1)
    ]


@router.post(
    "user/session",
    response={200: VerifyOut, **ERRORS},
    summary="Verify a session",
    description="Is target_ust a live session? Needs a super-user's current_ust (E005001 "
    "otherwise); a missing target_ust is E007001; an unknown, expired or malformed one is "
    '`"is_valid": false`.',
    openapi_extra=documented_body(VerifyIn),
)
def verify(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, VerifyIn)
    is_valid = flows.verify(payload.current_ust, payload.target_ust)
    return answer(VerifyOut(cid=cid_of(request), is_valid=is_valid))


@router.get(
    "user/session",
    response={200: SessionOut, **ERRORS},
    summary="Read a session",
    description="Needs a super-user's current_ust (E005001 otherwise) and target_ust "
    "(E007001 without it).",
)
def describe(request: HttpRequest, query: Query[SessionQuery]) -> dict:
    return ok(request, **_details(flows.describe(query.current_ust, query.target_ust)))


@router.patch("user/session", response={200: RenewOut, **ERRORS}, summary="Renew a session")
def renew(request: HttpRequest, payload: UstIn) -> dict:
    expires = flows.renew(payload.ust, payload.current_app, caller_of(request))
    return ok(request, expiration_time=utc(expires))


@router.delete(
    "user/session",
    response={200: OkOut, **ERRORS},
    summary="End a session",
    description="admit's own (Zato has no such call): ends target_ust (default: "
    "current_ust), one's own or, for a super-user, anyone's.",
)
def end(request: HttpRequest, payload: SessionIn) -> dict:
    flows.end_session(payload.current_ust, payload.target_ust, caller_of(request))
    return ok(request)


@router.get(
    "user/session/list",
    response={200: SessionListOut, **ERRORS},
    summary="List live sessions",
    description="`ust` alone: the caller's own. `current_ust` with `target_ust`: the "
    "sessions of the user owning target_ust (a super-user's, or one's own; E005001 otherwise). "
    "`ust` with `user_id`: a super-user's view of that user's. Both selectors, or neither, "
    "is E008002. Tokens are never returned except the caller's own current one.",
)
def list_sessions(request: HttpRequest, query: Query[SessionListQuery]) -> dict:
    sessions = flows.list_sessions(
        query.ust, query.user_id, current_ust=query.current_ust, target_ust=query.target_ust
    )
    own = query.ust or query.current_ust
    own_digest = digest(own)
    result = [
        {
            **_details(session),
            "auth_type": "default",
            "auth_principal": session.user.username,
            "session_state_change_list": _state_changes(session),
            "ust": own if session.ust_digest == own_digest else None,
        }
        for session in sessions
    ]
    return ok(request, result=result)


@router.delete(
    "user/session/list", response={200: OkOut, **ERRORS}, summary="End all other sessions"
)
def end_others(request: HttpRequest, payload: UstIn) -> dict:
    flows.end_other_sessions(payload.ust, caller_of(request))
    return ok(request)
