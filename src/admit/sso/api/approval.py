"""The super-user's approval queue: list the sign-ups waiting (GET /zato/sso/user/signup),
approve one, reject one.

The routes join the sign-up router, since the queue is listed at the sign-up's own path.
Their operation ids are the ones they had when they lived in ``signup.py``: generated
clients name their methods after them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query

from admit.http.requests import caller_of
from admit.http.schemas import ERRORS, utc
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.api.signup import router
from admit.sso.schemas import ApproveIn, OkOut, PendingQuery, PendingUserOut, RejectIn


@router.get(
    "user/signup",
    response={200: list[PendingUserOut], **ERRORS},
    summary="List sign-ups waiting for confirmation or approval (super-user)",
    description="Oldest first. The total is in the X-Total-Count header.",
    operation_id="admit_sso_api_signup_list_signups",
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
    "user/signup/approve",
    response={200: OkOut, **ERRORS},
    summary="Approve a sign-up (super-user)",
    operation_id="admit_sso_api_signup_approve",
)
def approve(request: HttpRequest, payload: ApproveIn) -> dict:
    flows.approve(payload.user_id, payload.ust, caller_of(request))
    return ok(request)


@router.post(
    "user/signup/reject",
    response={200: OkOut, **ERRORS},
    summary="Reject a sign-up (super-user)",
    operation_id="admit_sso_api_signup_reject",
)
def reject(request: HttpRequest, payload: RejectIn) -> dict:
    flows.reject(payload.user_id, payload.reason, payload.ust, caller_of(request))
    return ok(request)


# Zato's paths for the same two decisions (create_cluster.add_sso_endpoints): the same views.
router.post(
    "user/approve",
    response={200: OkOut, **ERRORS},
    summary="Approve a sign-up (super-user; Zato's path)",
    operation_id="admit_sso_api_user_approve",
)(approve)
router.post(
    "user/reject",
    response={200: OkOut, **ERRORS},
    summary="Reject a sign-up (super-user; Zato's path)",
    description="The account is deleted (the seed), not kept as rejected as Zato does.",
    operation_id="admit_sso_api_user_reject",
)(reject)
