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
from admit.sso.models import Session
from admit.sso.schemas import (
    OkOut,
    RenewOut,
    SessionIn,
    SessionListOut,
    SessionListQuery,
    SessionOut,
    SessionQuery,
    UstIn,
    VerifyOut,
)

router = Router(tags=["sessions"])


def _details(session: Session) -> dict[str, object]:
    return {
        "creation_time": utc(session.created_at),
        "expiration_time": utc(session.expires_at),
        "current_app": session.app,
        "remote_addr": session.remote_ip,
        "remote_name": session.remote_addr,
        "user_agent": session.user_agent,
    }


@router.post(
    "user/session",
    response={200: VerifyOut, **ERRORS},
    summary="Verify a session",
    description="The relying application's check: is target_ust (default: current_ust) live? "
    "Verifying another user's session needs a super-user's current_ust.",
    openapi_extra=documented_body(SessionIn),
)
def verify(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, SessionIn)
    target = payload.target_ust or payload.current_ust
    is_valid = flows.verify(payload.current_ust, target)
    return answer(VerifyOut(cid=cid_of(request), is_valid=is_valid))


@router.get("user/session", response={200: SessionOut, **ERRORS}, summary="Read a session")
def describe(request: HttpRequest, query: Query[SessionQuery]) -> dict:
    return ok(request, **_details(flows.describe(query.current_ust, query.target_ust)))


@router.patch("user/session", response={200: RenewOut, **ERRORS}, summary="Renew a session")
def renew(request: HttpRequest, payload: UstIn) -> dict:
    expires = flows.renew(payload.ust, payload.current_app, caller_of(request))
    return ok(request, expiration_time=utc(expires))


@router.delete("user/session", response={200: OkOut, **ERRORS}, summary="End a session")
def end(request: HttpRequest, payload: SessionIn) -> dict:
    flows.end_session(payload.current_ust, payload.target_ust, caller_of(request))
    return ok(request)


@router.get(
    "user/session/list",
    response={200: SessionListOut, **ERRORS},
    summary="List live sessions",
    description="The caller's own, or, for a super-user with user_id, that user's. "
    "Tokens are never returned except the caller's own current one.",
)
def list_sessions(request: HttpRequest, query: Query[SessionListQuery]) -> dict:
    own_digest = digest(query.ust)
    result = [
        {
            **_details(session),
            "ust": query.ust if session.ust_digest == own_digest else None,
            "history": [
                {
                    "kind": event.kind,
                    "time": utc(event.at),
                    "remote_addr": event.remote_ip,
                    "user_agent": event.user_agent,
                }
                for event in session.events.all()
            ],
        }
        for session in flows.list_sessions(query.ust, query.user_id)
    ]
    return ok(request, result=result)


@router.delete(
    "user/session/list", response={200: OkOut, **ERRORS}, summary="End all other sessions"
)
def end_others(request: HttpRequest, payload: UstIn) -> dict:
    flows.end_other_sessions(payload.ust, caller_of(request))
    return ok(request)
