"""Request and response shapes of /zato/sso/, as the seed documents them."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class StrictInput(BaseModel):
    """A JSON body. No coercion: a number where a string belongs is E008002, not a quiet
    "123". Unknown fields are ignored and grant nothing. A plain pydantic model: ninja's
    ``Schema`` adds reading from Django objects' attributes, which a body never needs and
    which cost every nested object a wrapper on every request."""

    model_config = ConfigDict(strict=True, extra="ignore")


class SignupIn(StrictInput):
    username: StrictStr
    password: StrictStr
    email: StrictStr
    current_app: StrictStr
    app_list: list[StrictStr] = Field(default_factory=list, max_length=100)
    display_name: StrictStr = Field("", max_length=256)
    remote_addr: StrictStr = Field("", max_length=255)


class ConfirmIn(StrictInput):
    confirm_token: StrictStr


class PendingQuery(Schema):
    # Query-string values arrive as text, so these are parsed, not strict.
    ust: str
    status: Literal["to-approve", "to-confirm"] = "to-approve"
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=100)


class ApproveIn(StrictInput):
    user_id: StrictStr
    ust: StrictStr


class RejectIn(StrictInput):
    user_id: StrictStr
    ust: StrictStr
    reason: StrictStr = Field("", max_length=2000)


class LoginIn(StrictInput):
    username: StrictStr
    password: StrictStr
    current_app: StrictStr
    totp_code: StrictStr = Field("", max_length=16)
    new_password: StrictStr = Field(
        "", description="Required when the password must change (E003007)"
    )
    remote_addr: StrictStr = Field("", max_length=255)
    user_agent: StrictStr = Field(
        "", max_length=512, description="Defaults to the User-Agent header"
    )


class LogoutIn(StrictInput):
    ust: StrictStr
    current_app: StrictStr


class OkOut(Schema):
    status: Literal["ok"] = "ok"
    cid: str


class SignupOut(OkOut):
    confirm_token: str | None = Field(
        None,
        description="Present if confirmation is required and [signup] return_confirm_token is on.",
    )


class LoginOut(Schema):
    status: Literal["ok", "warning"]
    cid: str
    ust: str
    sub_status: list[str] | None = Field(None, description="With status warning: W003005")


class PendingUserOut(Schema):
    user_id: str
    username: str
    email: str
    display_name: str
    sign_up_time: str = Field(
        description="UTC, ISO 8601 without offset, as in the seed: 2018-02-13T15:32:24"
    )
    remote_ip: str | None
    remote_addr: str


class ErrorDetail(Schema):
    field: str
    problem: str


class ErrorOut(Schema):
    status: Literal["error"] = "error"
    sub_status: list[str] = Field(description="Machine codes, e.g. E001002; see docs/api.md")
    cid: str
    details: list[ErrorDetail] | None = Field(
        None, description="Present on HTTP 400: which field is wrong and how"
    )


# Sessions


class SessionIn(StrictInput):
    current_ust: StrictStr
    target_ust: StrictStr = Field("", description="Defaults to current_ust")
    current_app: StrictStr = ""


class SessionQuery(Schema):
    current_ust: str
    target_ust: str = ""
    current_app: str = ""


class UstIn(StrictInput):
    ust: StrictStr
    current_app: StrictStr = ""


class SessionListQuery(Schema):
    ust: str
    user_id: str = Field("", description="A super-user may list another user's sessions")
    current_app: str = ""


class VerifyOut(OkOut):
    is_valid: bool


class RenewOut(OkOut):
    expiration_time: str


class SessionEventOut(Schema):
    kind: Literal["login", "renew"]
    time: str
    remote_addr: str | None
    user_agent: str


class SessionDetails(Schema):
    creation_time: str
    expiration_time: str
    current_app: str
    remote_addr: str | None
    remote_name: str
    user_agent: str


class SessionOut(OkOut, SessionDetails):
    pass


class SessionListEntry(SessionDetails):
    ust: str | None = Field(None, description="Only ever the caller's own current session's token")
    history: list[SessionEventOut]


class SessionListOut(OkOut):
    result: list[SessionListEntry]


# Users


class UserQuery(Schema):
    ust: str
    user_id: str = ""
    current_app: str = ""


class UserOut(OkOut):
    user_id: str
    username: str
    email: str
    display_name: str
    first_name: str
    middle_name: str
    last_name: str
    sign_up_time: str
    is_confirmed: bool
    is_approved: bool
    is_locked: bool
    is_superuser: bool
    has_totp: bool
    password_expiry: str | None
    password_must_change: bool
    app_list: list[str]


class CreateUserIn(StrictInput):
    ust: StrictStr
    username: StrictStr
    password: StrictStr
    email: StrictStr
    display_name: StrictStr = Field("", max_length=256)
    first_name: StrictStr = Field("", max_length=128)
    middle_name: StrictStr = Field("", max_length=128)
    last_name: StrictStr = Field("", max_length=128)
    is_superuser: StrictBool = False
    auto_approve: StrictBool = False
    password_must_change: StrictBool = False
    current_app: StrictStr = ""


class CreatedOut(OkOut):
    user_id: str


class UpdateUserIn(StrictInput):
    ust: StrictStr
    user_id: StrictStr = ""
    current_app: StrictStr = ""
    display_name: StrictStr | None = Field(None, max_length=256)
    first_name: StrictStr | None = Field(None, max_length=128)
    middle_name: StrictStr | None = Field(None, max_length=128)
    last_name: StrictStr | None = Field(None, max_length=128)
    email: StrictStr | None = Field(None, description="Super-users only")
    is_approved: StrictBool | None = Field(None, description="Super-users only")
    is_locked: StrictBool | None = Field(None, description="Super-users only")
    password_must_change: StrictBool | None = Field(None, description="Super-users only")


class UserIdIn(StrictInput):
    ust: StrictStr
    user_id: StrictStr
    current_app: StrictStr = ""


class SearchIn(StrictInput):
    ust: StrictStr
    user_id: StrictStr | None = None
    username: StrictStr | None = None
    email: StrictStr | None = None
    display_name: StrictStr | None = None
    first_name: StrictStr | None = None
    middle_name: StrictStr | None = None
    last_name: StrictStr | None = None
    sign_up_status: Literal["", "to-confirm", "confirmed"] = ""
    approval_status: Literal["", "pending", "approved"] = ""
    is_name_exact: StrictBool = Field(True, description="false: match anywhere in the value")
    page: StrictInt = Field(1, ge=1, le=1_000_000)
    page_size: StrictInt = Field(50, ge=1, le=100)
    current_app: StrictStr = ""


class UserSummary(Schema):
    user_id: str
    username: str
    email: str
    display_name: str
    sign_up_time: str
    is_confirmed: bool
    is_approved: bool
    is_locked: bool


class SearchOut(OkOut):
    result: list[UserSummary]
    total: int
    num_pages: int
    page: int
    has_next_page: bool
    has_prev_page: bool
    next_page: int | None
    prev_page: int | None


class PasswordIn(StrictInput):
    ust: StrictStr
    new_password: StrictStr
    old_password: StrictStr = Field("", description="Required to change one's own password")
    user_id: StrictStr = Field("", description="Super-users: whose password to set")
    password_expiry: AwareDatetime | None = Field(
        None, strict=False, description="Super-users: when it expires (ISO 8601 with an offset)"
    )
    must_change: StrictBool = Field(
        False, description="Super-users: the user must change it at log-in"
    )
    current_app: StrictStr = ""


class TotpIn(StrictInput):
    ust: StrictStr
    totp_key: StrictStr = Field("", max_length=256, description="Base32; generated when empty")
    totp_label: StrictStr = Field("", max_length=128)
    totp_code: StrictStr = Field(
        "", max_length=16, description="A code of the current key, to replace it"
    )
    current_app: StrictStr = ""


class TotpOut(OkOut):
    totp_key: str
    provisioning_uri: str


# Password reset


class ResetRequestIn(StrictInput):
    credential: StrictStr = Field(max_length=254, description="Username or e-mail address")
    current_app: StrictStr = ""


class ResetOpenIn(StrictInput):
    token: StrictStr


class ResetKeyOut(OkOut):
    reset_key: str


class ResetFinishIn(StrictInput):
    token: StrictStr
    reset_key: StrictStr
    password: StrictStr
