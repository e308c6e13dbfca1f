"""/zato/sso/user, /user/search, /user/lock, /user/password, /user/totp."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from admit.core import totp
from admit.http.requests import caller_of
from admit.http.schemas import ERRORS, utc
from admit.sso import flows
from admit.sso.api.common import ok
from admit.sso.flows.users import SEARCH_FIELDS
from admit.sso.models import User
from admit.sso.schemas import (
    CreatedOut,
    CreateUserIn,
    OkOut,
    PasswordIn,
    SearchIn,
    SearchOut,
    TotpIn,
    TotpOut,
    UpdateUserIn,
    UserIdIn,
    UserOut,
    UserQuery,
)

router = Router(tags=["users"])


def _user(user: User) -> dict[str, object]:
    return {
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "last_name": user.last_name,
        "sign_up_time": utc(user.sign_up_time),
        "is_confirmed": user.is_confirmed,
        "is_approved": user.is_approved,
        "is_locked": user.is_locked,
        "is_superuser": user.is_superuser,
        "is_totp_enabled": user.is_totp_enabled,
        "password_expiry": utc(user.password_expiry),
        "password_must_change": user.password_must_change,
        "app_list": user.app_list,
    }


@router.get(
    "user", response={200: UserOut, **ERRORS}, summary="Read a user (own, or any for a super-user)"
)
def get_user(request: HttpRequest, query: Query[UserQuery]) -> dict:
    return ok(request, **_user(flows.get_user(query.ust, query.user_id)))


@router.post("user", response={200: CreatedOut, **ERRORS}, summary="Create a user (super-user)")
def create_user(request: HttpRequest, payload: CreateUserIn) -> dict:
    new = flows.NewUser(**payload.model_dump(exclude={"ust", "current_app"}))
    return ok(request, user_id=flows.create_user(payload.ust, new, caller_of(request)).user_id)


@router.patch(
    "user",
    response={200: OkOut, **ERRORS},
    summary="Update a user",
    description="Anyone: their own display name and names. Super-users: also anyone's e-mail, "
    "approval, lock and must-change flag (user_id names whom).",
)
def update_user(request: HttpRequest, payload: UpdateUserIn) -> dict:
    changes = payload.model_dump(exclude={"ust", "user_id", "current_app"}, exclude_none=True)
    flows.update_user(payload.ust, changes, caller_of(request), payload.user_id)
    return ok(request)


@router.delete("user", response={200: OkOut, **ERRORS}, summary="Delete a user (super-user)")
def delete_user(request: HttpRequest, payload: UserIdIn) -> dict:
    flows.delete_user(payload.ust, payload.user_id, caller_of(request))
    return ok(request)


@router.post(
    "user/search", response={200: SearchOut, **ERRORS}, summary="Search users (super-user)"
)
def search(request: HttpRequest, payload: SearchIn) -> dict:
    criteria = payload.model_dump(include=set(SEARCH_FIELDS), exclude_none=True)
    found = flows.search_users(
        payload.ust,
        criteria,
        "exact" if payload.is_name_exact else "contains",
        payload.page,
        payload.page_size,
        payload.sign_up_status,
        payload.approval_status,
    )
    return ok(
        request,
        result=[
            {
                key: value
                for key, value in _user(user).items()
                if key in ("user_id", "username", "email", "display_name", "sign_up_time")
                or key in ("is_confirmed", "is_approved", "is_locked")
            }
            for user in found.users
        ],
        total=found.total,
        num_pages=found.num_pages,
        page=found.page,
        has_next_page=found.has_next,
        has_prev_page=found.has_previous,
        next_page=found.page + 1 if found.has_next else None,
        prev_page=found.page - 1 if found.has_previous else None,
    )


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
        expiry=payload.password_expiry,
        must_change=payload.must_change,
    )
    return ok(request)


@router.patch("user/totp", response={200: TotpOut, **ERRORS}, summary="Turn on TOTP for oneself")
def enable_totp(request: HttpRequest, payload: TotpIn) -> dict:
    key = flows.enable_totp(
        payload.ust, payload.totp_key, payload.totp_label, caller_of(request), payload.totp_code
    )
    label = payload.totp_label or flows.user_for(payload.ust).username
    return ok(request, totp_key=key, provisioning_uri=totp.provisioning_uri(key, label))
