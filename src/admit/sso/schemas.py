"""Request and response shapes of /zato/sso/, as the seed documents them. The building blocks
(strict bodies, the ``Text`` types, the error answer) are ``admit.http.schemas``'."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field

from admit.http.schemas import MultilineText, Name, Password, StrictInput, Text


class SignupIn(StrictInput):
    username: Name
    password: Password
    email: Name = Field("", description="Required (E002005) unless [signup] email_required is off")
    current_app: Text
    app_list: list[Text] = Field(default_factory=list, max_length=100)
    display_name: Text = Field("", max_length=256)
    remote_addr: Text = Field("", max_length=255)


class ConfirmIn(StrictInput):
    confirm_token: Text


class PendingQuery(Schema):
    # Query-string values arrive as text, so these are parsed, not strict.
    ust: Text
    status: Literal["to-approve", "to-confirm"] = "to-approve"
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=100)


# The seed's examples of approve and reject carry no ``ust``; without one the answer is 400
# E008003 "ust: Field required" (docs/api.md, "Approve and reject").
SUPERUSER_UST = "A logged-in super-user's ust (POST /zato/sso/user/login); E005001 otherwise"


class ApproveIn(StrictInput):
    user_id: Text = Field(description="From the approval queue (GET /zato/sso/user/signup)")
    ust: Text = Field(description=SUPERUSER_UST)
    current_app: Text = ""


class RejectIn(StrictInput):
    user_id: Text = Field(description="From the approval queue (GET /zato/sso/user/signup)")
    ust: Text = Field(description=SUPERUSER_UST)
    reason: MultilineText = Field("", max_length=2000, description="E-mailed to the person")
    current_app: Text = ""


class LoginIn(StrictInput):
    # A null username, or no password, is a refused log-in (E005001), not a malformed request.
    username: Text | None
    password: Password | None = None
    current_app: Text
    totp_code: Text = Field("", max_length=16)
    new_password: Password = Field(
        "", description="Required when the password must change (E003007)"
    )
    remote_addr: Text = Field("", max_length=255)
    user_agent: Text = Field("", max_length=512, description="Defaults to the User-Agent header")


class LogoutIn(StrictInput):
    ust: Text
    current_app: Text


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


# Sessions


class SessionIn(StrictInput):
    current_ust: Text
    target_ust: Text = Field("", description="Defaults to current_ust")
    current_app: Text = ""


class VerifyIn(StrictInput):
    current_ust: Text = Field(description="A super-user's (E005001 otherwise)")
    # Not required by the schema: a missing one is Zato's E007001, not a malformed request.
    target_ust: Text = Field("", description="The session to check (E007001 without it)")
    current_app: Text = ""


class SessionQuery(Schema):
    current_ust: Text = Field(description="A super-user's (E005001 otherwise)")
    target_ust: Text = Field("", description="The session to read (E007001 without it)")
    current_app: Text = ""


class UstIn(StrictInput):
    ust: Text
    current_app: Text = ""


class SessionListQuery(Schema):
    ust: Text = Field("", description="The caller's own sessions")
    current_ust: Text = Field("", description="With target_ust, instead of ust")
    target_ust: Text = Field(
        "", description="With current_ust: the sessions of the user owning this session"
    )
    user_id: Text = Field("", description="With ust: a super-user may list another user's")
    current_app: Text = ""


class VerifyOut(OkOut):
    is_valid: bool


class RenewOut(OkOut):
    expiration_time: str


class SessionStateChange(Schema):
    remote_addr: str | None
    user_agent: str
    timestamp_utc: str
    ctx_source: Literal["login", "renew"]
    idx: int = Field(description="1 for the log-in, then one more for each renewal")


class SessionDetails(Schema):
    creation_time: str
    expiration_time: str
    remote_addr: str | None = Field(
        description="The remote_addr given at log-in, else the client's IP address"
    )
    user_agent: str
    current_app: str = Field(description="admit's own: the app the session was opened for")


class SessionOut(OkOut, SessionDetails):
    pass


class SessionListEntry(SessionDetails):
    auth_type: Literal["default"] = "default"
    auth_principal: str = Field(description="The username")
    session_state_change_list: list[SessionStateChange]
    ust: str | None = Field(None, description="Only ever the caller's own current session's token")


class SessionListOut(OkOut):
    result: list[SessionListEntry]


# Password reset


class ResetRequestIn(StrictInput):
    credential: Text = Field(max_length=254, description="Username or e-mail address")
    current_app: Text = ""


class ResetOpenIn(StrictInput):
    token: Text


class ResetKeyOut(OkOut):
    reset_key: str


class ResetFinishIn(StrictInput):
    token: Text
    reset_key: Text
    password: Password
