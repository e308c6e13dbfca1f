"""Request and response shapes of /zato/sso/, as the seed documents them."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictStr


class StrictInput(Schema):
    # No coercion: a number where a string belongs is E008002, not a quiet "123".
    # Unknown fields are ignored and grant nothing.
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
    remote_addr: StrictStr = Field("", max_length=255)


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


class LoginOut(OkOut):
    ust: str


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
