"""/zato/sso/user/login and /user/logout: a session (``ust``) for a password, and its end.

The operation ids are the ones these routes had when they lived in ``signup.py``: generated
clients name their methods after them.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router

from admit.http.jsonbody import answer, documented_body, read_body
from admit.http.requests import caller_of, cid_of
from admit.http.schemas import ERRORS
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.flows.login import LoginRequest
from admit.sso.schemas import LoginIn, LoginOut, LogoutIn, OkOut

router = Router(tags=["sign-up and log-in"])


@router.post(
    "user/login",
    response={200: LoginOut, **ERRORS},
    summary="Log in",
    description='A password about to expire answers `"status": "warning"`, `W003005`, a `ust` '
    '(or E003006 with `[password] about_to_expire = "refuse"`). A null username or no '
    "password is E005001.",
    openapi_extra=documented_body(LoginIn),
    operation_id="admit_sso_api_signup_login",
)
def login(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, LoginIn)
    fields = payload.model_dump()
    fields["username"] = fields["username"] or ""
    fields["password"] = fields["password"] or ""
    result = flows.login(LoginRequest(**fields), caller_of(request, payload.user_agent))
    status: Literal["ok", "warning"] = "warning" if result.warnings else "ok"
    sub_status = result.warnings or None
    return answer(
        LoginOut(status=status, cid=cid_of(request), ust=result.ust, sub_status=sub_status)
    )


@router.post(
    "user/logout",
    response={200: OkOut, **ERRORS},
    summary="Log out",
    operation_id="admit_sso_api_signup_logout",
)
def logout(request: HttpRequest, payload: LogoutIn) -> dict:
    flows.logout(payload.ust, payload.current_app, caller_of(request))
    return ok(request)
