"""/zato/sso/user/signup: sign up, and confirm a sign-up with its token."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from admit.http.jsonbody import answer, documented_body, read_body
from admit.http.requests import caller_of, cid_of
from admit.http.schemas import ERRORS
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.rules import SignupRequest
from admit.sso.schemas import ConfirmIn, OkOut, SignupIn, SignupOut

# Also the router of the approval queue (admit.sso.api.approval), which lists sign-ups at
# GET user/signup: Django sends one path to one router, so the two share it.
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


# Zato confirms with PATCH on the sign-up's own path: the same view.
router.patch(
    "user/signup",
    response={200: OkOut, **ERRORS},
    summary="Confirm a sign-up (Zato's method)",
    operation_id="admit_sso_api_signup_confirm_patch",
)(confirm)
