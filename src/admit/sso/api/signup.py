"""/zato/sso/user/signup (and its queue), /user/login, /user/logout."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from admit.core.jsonbody import answer, documented_body, read_body
from admit.core.requests import caller_of, cid_of
from admit.sso import flows
from admit.sso.api.common import ERRORS, ok, utc
from admit.sso.flows.login import LoginRequest
from admit.sso.rules import SignupRequest
from admit.sso.schemas import (
    ApproveIn,
    ConfirmIn,
    LoginIn,
    LoginOut,
    LogoutIn,
    OkOut,
    PendingQuery,
    PendingUserOut,
    RejectIn,
    SignupIn,
    SignupOut,
)

router = Router(tags=["sign-up and log-in"])


@router.post(
    "user/signup",
    response={200: SignupOut, **ERRORS},
    summary="Sign up",
    openapi_extra=documented_body(SignupIn),
)
def signup(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, SignupIn)
    result = flows.signup(SignupRequest(**payload.model_dump()), caller_of(request))
    return answer(SignupOut(cid=cid_of(request), confirm_token=result.confirm_token))


@router.post("user/signup/confirm", response={200: OkOut, **ERRORS}, summary="Confirm a sign-up")
def confirm(request: HttpRequest, payload: ConfirmIn) -> dict:
    flows.confirm_signup(payload.confirm_token, caller_of(request))
    return ok(request)


@router.get(
    "user/signup",
    response={200: list[PendingUserOut], **ERRORS},
    summary="List sign-ups waiting for confirmation or approval (super-user)",
    description="Oldest first. The total is in the X-Total-Count header.",
)
def list_signups(
    request: HttpRequest, response: HttpResponse, filters: Query[PendingQuery]
) -> list[dict]:
    page = flows.list_pending(filters.ust, filters.status, filters.page, filters.page_size)
    response["X-Total-Count"] = str(page.total)
    return [
        {
            "user_id": user.user_id,
            "username": user.username,
            "email": user.email,
            "display_name": user.display_name,
            "sign_up_time": utc(user.sign_up_time),
            "remote_ip": user.remote_ip,
            "remote_addr": user.remote_addr,
        }
        for user in page.users
    ]


@router.post(
    "user/signup/approve", response={200: OkOut, **ERRORS}, summary="Approve a sign-up (super-user)"
)
def approve(request: HttpRequest, payload: ApproveIn) -> dict:
    flows.approve(payload.user_id, payload.ust, caller_of(request))
    return ok(request)


@router.post(
    "user/signup/reject", response={200: OkOut, **ERRORS}, summary="Reject a sign-up (super-user)"
)
def reject(request: HttpRequest, payload: RejectIn) -> dict:
    flows.reject(payload.user_id, payload.reason, payload.ust, caller_of(request))
    return ok(request)


@router.post(
    "user/login",
    response={200: LoginOut, **ERRORS},
    summary="Log in",
    description='A password about to expire answers `"status": "warning"`, `W003005`, a `ust`.',
    openapi_extra=documented_body(LoginIn),
)
def login(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, LoginIn)
    fields = payload.model_dump(exclude={"user_agent"})
    result = flows.login(LoginRequest(**fields), caller_of(request, payload.user_agent))
    status: Literal["ok", "warning"] = "warning" if result.warnings else "ok"
    sub_status = result.warnings or None
    return answer(
        LoginOut(status=status, cid=cid_of(request), ust=result.ust, sub_status=sub_status)
    )


@router.post("user/logout", response={200: OkOut, **ERRORS}, summary="Log out")
def logout(request: HttpRequest, payload: LogoutIn) -> dict:
    flows.logout(payload.ust, payload.current_app, caller_of(request))
    return ok(request)
