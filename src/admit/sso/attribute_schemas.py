"""Request and response shapes of /zato/sso/user/attr and /zato/sso/session/attr (and their
``/exists`` and ``/names``), as Zato's SSO attribute services take them."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StrictBool

from admit.http.schemas import StrictInput, Text, WholeNumber
from admit.sso.flows.attributes import MAX_EXPIRATION_SECONDS, MAX_NAME_LENGTH, MAX_PER_OWNER
from admit.sso.schemas import OkOut

MAX_QUERY_NAMES = 10
MAX_QUERY_NAME_LENGTH = 64
AttrName = Annotated[Text, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Expiration = Annotated[WholeNumber, Field(gt=0, le=MAX_EXPIRATION_SECONDS)]

_VALUE = "Any JSON value; at most 16 KiB as JSON"
_EXPIRATION = "Seconds from now until it expires; absent: never (an update keeps the old one)"


# Whose attributes


class UserWhoIn(StrictInput):
    ust: Text
    user_id: Text = Field("", description="A super-user may name any user; default: oneself")
    current_app: Text = ""


class SessionWhoIn(StrictInput):
    current_ust: Text = Field("", description="The caller's session (or give it as ust)")
    ust: Text = Field("", description="Same as current_ust")
    target_ust: Text = Field("", description="Whose session's attributes; default: current_ust")
    current_app: Text = ""


# Writing


class AttrItemIn(StrictInput):
    name: AttrName
    value: Any = Field(None, description=_VALUE)
    expiration: Expiration | None = Field(None, description=_EXPIRATION)
    encrypt: StrictBool | None = Field(None, description="Default: the request's encrypt")


class _AttrWriteIn(StrictInput):
    name: AttrName | None = Field(None, description="One attribute (or give data)")
    value: Any = Field(None, description=_VALUE)
    expiration: Expiration | None = Field(None, description=_EXPIRATION)
    encrypt: StrictBool = Field(False, description="Store the value encrypted")
    data: list[AttrItemIn] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PER_OWNER,
        description="Many attributes at once, all or nothing (when name is absent)",
    )


class UserAttrIn(_AttrWriteIn, UserWhoIn):
    pass


class SessionAttrIn(_AttrWriteIn, SessionWhoIn):
    pass


class _AttrDeleteIn(StrictInput):
    name: AttrName | None = Field(None, description="One attribute (or give data)")
    data: list[AttrName] | None = Field(
        None, min_length=1, max_length=MAX_PER_OWNER, description="Names of attributes"
    )


class UserAttrDeleteIn(_AttrDeleteIn, UserWhoIn):
    pass


class SessionAttrDeleteIn(_AttrDeleteIn, SessionWhoIn):
    pass


# Reading: the query string or a JSON body (a list as repeated parameters or JSON)


class _AttrQuery(Schema):
    # Query-string values arrive as text, so these are parsed, not strict.
    name: AttrName | None = Field(None, description="One attribute (or give data)")
    # Fewer and shorter than in a body: a query string (and gunicorn's request line, at most
    # 8190 bytes) must hold them. More names are read by name, or in several calls.
    data: list[Annotated[Text, Field(min_length=1, max_length=MAX_QUERY_NAME_LENGTH)]] = Field(
        default_factory=list,
        max_length=MAX_QUERY_NAMES,
        description=f"Names of attributes: at most {MAX_QUERY_NAMES}, each of at most "
        f"{MAX_QUERY_NAME_LENGTH} characters",
    )
    decrypt: bool = Field(True, description="false: an encrypted value as stored")
    current_app: Text = ""


class UserAttrQuery(_AttrQuery):
    ust: Text
    user_id: Text = ""


class SessionAttrQuery(_AttrQuery):
    current_ust: Text = ""
    ust: Text = ""
    target_ust: Text = ""


class AttrRecord(Schema):
    name: str
    value: Any
    creation_time: str
    last_modified: str
    expiration_time: str | None = Field(description="null: never")
    is_encrypted: bool


class AttrGetOut(OkOut):
    found: bool | None = Field(None, description="With name: whether it exists")
    name: str | None = None
    value: Any = None
    creation_time: str | None = None
    last_modified: str | None = None
    expiration_time: str | None = None
    is_encrypted: bool | None = None
    result: dict[str, AttrRecord | None] | None = Field(
        None, description="With data: each name's attribute, or null"
    )


class AttrExistsOut(OkOut):
    result: bool | dict[str, bool] = Field(description="With name: a bool; with data: per name")


class AttrNamesOut(OkOut):
    result: list[str]
