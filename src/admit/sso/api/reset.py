"""/zato/sso/password/reset: ask, open, finish."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from admit.http.requests import caller_of
from admit.http.schemas import ERRORS
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.schemas import OkOut, ResetFinishIn, ResetKeyOut, ResetOpenIn, ResetRequestIn

router = Router(tags=["password reset"])


@router.post(
    "password/reset",
    response={200: OkOut, **ERRORS},
    summary="Ask for a password reset",
    description="Always ok, whether or not the credential names an account.",
)
def request_reset(request: HttpRequest, payload: ResetRequestIn) -> dict:
    flows.request_reset(payload.credential, payload.current_app, caller_of(request))
    return ok(request)


@router.patch(
    "password/reset", response={200: ResetKeyOut, **ERRORS}, summary="Exchange the e-mailed token"
)
def open_reset(request: HttpRequest, payload: ResetOpenIn) -> dict:
    return ok(request, reset_key=flows.open_reset(payload.token, caller_of(request)))


@router.delete("password/reset", response={200: OkOut, **ERRORS}, summary="Set the new password")
def finish_reset(request: HttpRequest, payload: ResetFinishIn) -> dict:
    flows.finish_reset(payload.token, payload.reset_key, payload.password, caller_of(request))
    return ok(request)
