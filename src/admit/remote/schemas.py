from __future__ import annotations

from typing import Literal
from uuid import UUID

from django.conf import settings
from ninja import Schema
from pydantic import Field, StrictStr

from admit.http.schemas import StrictInput, Text, WholeNumber
from admit.remote.models import HOST_PATTERN


class RemoteUserIn(StrictInput):
    uuid: UUID = Field(strict=False)
    email: Text = Field(max_length=254)
    full_name: Text = Field("", max_length=255)


class RemoteRealmIn(StrictInput):
    uuid: UUID = Field(strict=False)
    # HOST_PATTERN admits no control character.
    host: StrictStr = Field(min_length=1, max_length=255, pattern=HOST_PATTERN)
    name: Text = Field("", max_length=255)
    org_type: WholeNumber = Field(0, ge=0, le=10000)


class LoginLinkIn(StrictInput):
    user: RemoteUserIn
    realm: RemoteRealmIn
    uri_scheme: Literal["https://", "http://"] = "https://"
    next_page: Text | None = Field(
        None,
        description="A name from [remote.next_pages]",
        json_schema_extra=lambda schema: names_of_next_pages(schema),
    )


def names_of_next_pages(schema: dict) -> None:
    """The names this server is configured with, as the document's ``enum`` when it is made."""
    schema["enum"] = [*sorted(settings.ADMIT_POLICY.remote.next_pages), None]


class LoginLinkOut(Schema):
    login_url: str


class PortalUserOut(Schema):
    uuid: str | None
    email: str
    full_name: str


class PortalSessionOut(Schema):
    user: PortalUserOut
    remote_server_uuid: str
    remote_realm_uuid: str | None
    authenticated_at: str
    next_page: str | None


class RegisterIn(StrictInput):
    version: Text = Field("", max_length=128)
    realms: list[RemoteRealmIn] = Field(default_factory=list, max_length=1000)


class RegisteredOut(Schema):
    status: Literal["ok"] = "ok"
    realms: int
