"""Request and response shapes of Zato's user calls: /zato/sso/user, /user/search,
/user/password, /user/totp, /user/lock, /user/approve and /user/reject.

The names are Zato's (``zato.server.service.internal.sso.user``); docs/api.md, "Zato
compatibility", says where admit keeps a safer rule.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AwareDatetime, BeforeValidator, Field, StrictBool

from admit.http.schemas import Name, Password, StrictInput, Text, WholeNumber
from admit.sso.schemas import OkOut

SignUpStatus = Literal["before_confirmation", "to_approve", "final"]
ApprovalStatus = Literal["before_decision", "approved", "rejected"]

# Base32 (RFC 4648, any case, spaces and padding ignored) of at least 128 bits (RFC 4226 §4).
TOTP_KEY = Field(
    "",
    max_length=256,
    pattern=r"^$|^ *(?:[A-Za-z2-7] *){26,}=*$",
    description="Base32 of at least 128 bits (26 characters); generated when empty",
)


def _iso_text(value: Any) -> Any:
    """A moment is ISO 8601 text: a number (which pydantic would read as a Unix time, so
    PATCH /user/password's days sent here would expire the password at once) is refused."""
    if isinstance(value, (bool, int, float)):
        raise ValueError("must be an ISO 8601 date and time with an offset")
    return value


# ISO 8601 text with an offset; strict=False lets pydantic parse the text (a dict's string).
IsoMoment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class UserQuery(Schema):
    ust: Text
    user_id: Text = Field("", description="Super-users: whose record; default: the caller's")
    current_app: Text = ""


class UserRecord(Schema):
    """A user as Zato describes one. A regular user reading their own record gets the first
    eight fields only; a super-user gets every field (Zato's ``super_user_attrs``)."""

    username: str | None = None
    email: str | None = None
    display_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    is_totp_enabled: bool | None = None
    totp_label: str | None = None
    # Super-users only:
    user_id: str | None = None
    is_active: bool | None = None
    is_approval_needed: bool | None = None
    is_internal: bool | None = None
    is_super_user: bool | None = None
    is_locked: bool | None = None
    locked_time: str | None = None
    locked_by: str | None = None
    creation_ctx: str | None = Field(None, description="JSON text: how the account was made")
    approval_status: str | None = Field(None, description="before_decision or approved")
    approval_status_mod_by: str | None = None
    approval_status_mod_time: str | None = None
    password_is_set: bool | None = None
    password_expiry: str | None = None
    password_last_set: str | None = None
    password_must_change: bool | None = None
    sign_up_status: str | None = Field(None, description="before_confirmation, to_approve or final")
    sign_up_time: str | None = None
    is_rate_limit_active: bool | None = None
    rate_limit_def: str | None = None


class UserRecordOut(OkOut, UserRecord):
    pass


class CreateUserIn(StrictInput):
    ust: Text
    current_app: Text = ""
    username: Name
    password: Password = Field("", description="Without one the user cannot log in until set")
    email: Name = Field("", description="Optional; an address when given (E002001)")
    display_name: Text = Field("", max_length=256)
    first_name: Text = Field("", max_length=128)
    middle_name: Text = Field("", max_length=128)
    last_name: Text = Field("", max_length=128)
    is_locked: StrictBool = False
    password_must_change: StrictBool = False
    is_totp_enabled: StrictBool = False
    totp_label: Text = Field("", max_length=128)
    totp_key: Text = TOTP_KEY
    sign_up_status: SignUpStatus = "final"
    auto_approve: StrictBool = False
    # Accepted as Zato does, and ignored: admit's rate limits are its own ([rate_limits]).
    is_rate_limit_active: StrictBool | None = None
    rate_limit_def: Text | None = None


class UpdateUserIn(StrictInput):
    ust: Text
    current_app: Text = ""
    user_id: Text = Field("", description="Super-users: whom to change; default: the caller")
    username: Name | None = None
    email: Name | None = None
    display_name: Text | None = Field(None, max_length=256)
    first_name: Text | None = Field(None, max_length=128)
    middle_name: Text | None = Field(None, max_length=128)
    last_name: Text | None = Field(None, max_length=128)
    is_totp_enabled: StrictBool | None = None
    totp_label: Text | None = Field(None, max_length=128)
    totp_code: Text = Field(
        "", max_length=16, description="To switch one's own TOTP on or off: a current code"
    )
    # Super-users only:
    is_locked: StrictBool | None = None
    password_expiry: IsoMoment | None = Field(
        None, strict=False, description="ISO 8601 with an offset"
    )
    password_must_change: StrictBool | None = None
    sign_up_status: SignUpStatus | None = None
    approval_status: ApprovalStatus | None = None
    is_rate_limit_active: StrictBool | None = None
    rate_limit_def: Text | None = None


class UserIdIn(StrictInput):
    ust: Text
    user_id: Text
    current_app: Text = ""


class SearchQuery(Schema):
    """Zato's search criteria. ``user_id`` wins over ``username``, which wins over the rest;
    names match case-insensitively, whole (``is_name_exact``) or anywhere in the value."""

    ust: Text
    current_app: Text = ""
    user_id: Text | None = None
    username: Text | None = None
    email: Text | None = None
    display_name: Text | None = None
    first_name: Text | None = None
    middle_name: Text | None = None
    last_name: Text | None = None
    # A query string has no null: empty means any.
    sign_up_status: Literal["before_confirmation", "to_approve", "final", ""] = ""
    approval_status: Literal["before_decision", "approved", ""] = ""
    name_op: Literal["and", "or"] = "and"
    is_name_exact: bool = True
    paginate: bool = True
    cur_page: int = Field(1, ge=-1_000_000, le=1_000_000)
    page_size: int = Field(50, ge=-1_000_000, le=1_000_000, description="At most 100")


class SearchIn(StrictInput):
    ust: Text
    current_app: Text = ""
    user_id: Text | None = None
    username: Text | None = None
    email: Text | None = None
    display_name: Text | None = None
    first_name: Text | None = None
    middle_name: Text | None = None
    last_name: Text | None = None
    sign_up_status: SignUpStatus | None = None
    approval_status: Literal["before_decision", "approved"] | None = None
    name_op: Literal["and", "or"] = "and"
    is_name_exact: StrictBool = True
    paginate: StrictBool = True
    cur_page: WholeNumber = Field(1, ge=-1_000_000, le=1_000_000)
    page_size: WholeNumber = Field(50, ge=-1_000_000, le=1_000_000, description="At most 100")


class SearchOut(OkOut):
    total: int
    num_pages: int
    page_size: int
    cur_page: int
    has_next_page: bool
    has_prev_page: bool
    next_page: int | None
    prev_page: int | None
    result: list[UserRecord]


class PasswordIn(StrictInput):
    ust: Text
    current_app: Text = ""
    new_password: Password
    old_password: Password = Field("", description="Required to change one's own password")
    user_id: Text = Field("", description="Super-users: whose password to set")
    password_expiry: WholeNumber = Field(
        -1,
        ge=-1_000_000,
        le=1_000_000,
        description="Super-users: days the password lives (0: forever; below 0: the default)",
    )
    must_change: StrictBool = Field(False, description="Super-users: change it at next log-in")


class TotpIn(StrictInput):
    ust: Text
    current_app: Text = ""
    user_id: Text = Field("", description="Super-users: whose key to reset")
    totp_key: Text = TOTP_KEY
    totp_label: Text = Field("", max_length=128)
    totp_code: Text = Field(
        "", max_length=16, description="One's own key while TOTP is on: a code of the current key"
    )


class TotpOut(OkOut):
    totp_key: str
    provisioning_uri: str
