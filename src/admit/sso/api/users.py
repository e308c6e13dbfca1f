"""/zato/sso/user, /user/search, /user/lock, /user/password, /user/totp, as Zato has them."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Query, Router

from admit.core import totp
from admit.http.requests import caller_of
from admit.http.schemas import ERRORS, utc
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.flows.user_search import NAME_FIELDS
from admit.sso.models import User
from admit.sso.schemas import OkOut
from admit.sso.user_schemas import (
    CreateUserIn,
    PasswordIn,
    SearchIn,
    SearchOut,
    SearchQuery,
    TotpIn,
    TotpOut,
    UpdateUserIn,
    UserIdIn,
    UserQuery,
    UserRecordOut,
)

router = Router(tags=["users"])


def record(user: User, full: bool) -> dict[str, object]:
    """Zato's user record: what the owner may read, and with ``full`` (a super-user asking)
    everything else (Zato's ``super_user_attrs``)."""
    own: dict[str, object] = {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "last_name": user.last_name,
        "is_totp_enabled": user.is_totp_enabled,
        "totp_label": user.totp_label,
    }
    if not full:
        return own
    return own | {
        "user_id": user.user_id,
        "is_active": user.is_active,
        "is_approval_needed": not user.is_approved,
        "is_internal": False,
        "is_super_user": user.is_superuser,
        "is_locked": user.is_locked,
        "locked_time": utc(user.locked_at),
        "locked_by": user.locked_by or None,
        "creation_ctx": json.dumps(user.creation_ctx),
        "approval_status": user.approval_status,
        "approval_status_mod_by": user.approval_status_mod_by or None,
        "approval_status_mod_time": utc(user.approval_status_mod_time),
        "password_is_set": user.has_usable_password(),
        "password_expiry": utc(user.password_expiry),
        "password_last_set": utc(user.password_last_set),
        "password_must_change": user.password_must_change,
        "sign_up_status": user.sign_up_status,
        "sign_up_time": utc(user.sign_up_time),
        "is_rate_limit_active": False,
        "rate_limit_def": None,
    }


@router.get(
    "user",
    response={200: UserRecordOut, **ERRORS},
    exclude_unset=True,
    summary="Read a user (one's own, or anyone's for a super-user)",
)
def get_user(request: HttpRequest, query: Query[UserQuery]) -> dict:
    user, full = flows.read_user(query.ust, query.user_id)
    return ok(request, **record(user, full))


@router.post(
    "user",
    response={200: UserRecordOut, **ERRORS},
    exclude_unset=True,
    summary="Create a user (super-user)",
    description="Without `password` the user has none (`password_is_set` false) and cannot "
    "log in until one is set. Answers the whole new record.",
)
def create_user(request: HttpRequest, payload: CreateUserIn) -> dict:
    fields = payload.model_dump(
        exclude={"ust", "current_app", "is_rate_limit_active", "rate_limit_def"}
    )
    user = flows.create_user(payload.ust, flows.NewUser(**fields), caller_of(request))
    return ok(request, **record(user, full=True))


@router.patch(
    "user",
    response={200: OkOut, **ERRORS},
    summary="Update a user",
    description="Anyone, on themselves: username, e-mail, names, is_totp_enabled (with a "
    "`totp_code`), totp_label. Super-users, on anyone (`user_id`): also is_locked, "
    "password_expiry, password_must_change, sign_up_status, approval_status.",
)
def update_user(request: HttpRequest, payload: UpdateUserIn) -> dict:
    changes = payload.model_dump(
        exclude={
            "ust",
            "user_id",
            "current_app",
            "totp_code",
            "is_rate_limit_active",
            "rate_limit_def",
        },
        exclude_none=True,
    )
    flows.update_user(payload.ust, changes, caller_of(request), payload.user_id, payload.totp_code)
    return ok(request)


@router.delete("user", response={200: OkOut, **ERRORS}, summary="Delete a user (super-user)")
def delete_user(request: HttpRequest, payload: UserIdIn) -> dict:
    flows.delete_user(payload.ust, payload.user_id, caller_of(request))
    return ok(request)


def _search(request: HttpRequest, criteria: SearchIn | SearchQuery) -> dict:
    names = {
        name: getattr(criteria, name) for name in NAME_FIELDS if getattr(criteria, name) is not None
    }
    found = flows.search_users(
        criteria.ust,
        flows.Criteria(
            user_id=criteria.user_id,
            username=criteria.username,
            email=criteria.email,
            names=names,
            sign_up_status=criteria.sign_up_status or None,
            approval_status=criteria.approval_status or None,
            name_op=criteria.name_op,
            is_name_exact=criteria.is_name_exact,
        ),
        criteria.cur_page,
        criteria.page_size,
        criteria.paginate,
    )
    return ok(
        request,
        result=[record(user, full=True) for user in found.users],
        total=found.total,
        num_pages=found.num_pages,
        page_size=found.page_size,
        cur_page=found.cur_page,
        has_next_page=found.has_next_page,
        has_prev_page=found.has_prev_page,
        next_page=found.cur_page + 1 if found.has_next_page else None,
        prev_page=found.cur_page - 1 if found.has_prev_page else None,
    )


@router.get("user/search", response={200: SearchOut, **ERRORS}, summary="Search users (super-user)")
def search_get(request: HttpRequest, query: Query[SearchQuery]) -> dict:
    return _search(request, query)


@router.post(
    "user/search", response={200: SearchOut, **ERRORS}, summary="Search users (super-user)"
)
def search(request: HttpRequest, payload: SearchIn) -> dict:
    return _search(request, payload)


@router.post("user/lock", response={200: OkOut, **ERRORS}, summary="Lock a user (super-user)")
def lock(request: HttpRequest, payload: UserIdIn) -> dict:
    flows.set_lock(payload.ust, payload.user_id, True, caller_of(request))
    return ok(request)


@router.delete("user/lock", response={200: OkOut, **ERRORS}, summary="Unlock a user (super-user)")
def unlock(request: HttpRequest, payload: UserIdIn) -> dict:
    flows.set_lock(payload.ust, payload.user_id, False, caller_of(request))
    return ok(request)


@router.patch("user/password", response={200: OkOut, **ERRORS}, summary="Change a password")
def change_password(request: HttpRequest, payload: PasswordIn) -> dict:
    flows.change_password(
        payload.ust,
        payload.new_password,
        caller_of(request),
        old_password=payload.old_password,
        user_id=payload.user_id,
        expiry_days=payload.password_expiry,
        must_change=payload.must_change,
    )
    return ok(request)


@router.patch(
    "user/totp",
    response={200: TotpOut, **ERRORS},
    summary="Reset a TOTP key",
    description="A new key (given, or generated) for oneself or, for a super-user, anyone "
    "(`user_id`). It does not switch TOTP on: PATCH /zato/sso/user with is_totp_enabled does.",
)
def reset_totp(request: HttpRequest, payload: TotpIn) -> dict:
    user, key = flows.reset_totp_key(
        payload.ust,
        payload.totp_key,
        payload.totp_label,
        caller_of(request),
        payload.user_id,
        payload.totp_code,
    )
    label = user.totp_label or user.username
    return ok(request, totp_key=key, provisioning_uri=totp.provisioning_uri(key, label))
