"""The shapes of the calls a Zulip server makes, as Zulip's own code sends and reads them
(``zerver/lib/remote_server.py``: ``UserDataForRemoteBilling``, ``RealmDataForAnalytics``,
``AnalyticsRequest``; ``zilencer/views.py``). Every call is a form; some fields hold JSON."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from admit.http.schemas import Text
from admit.remote.flows.registry import CHOSEN_KEY_PATTERN
from admit.remote.flows.zulip import UUID4_PATTERN
from admit.remote.models import HOST_PATTERN
from admit.remote.schemas import names_of_next_pages

# --- The JSON inside the form fields -------------------------------------------------------


class ZulipUser(BaseModel):
    """``user`` of a billing request: Zulip's ``UserDataForRemoteBilling``."""

    model_config = ConfigDict(strict=True, extra="ignore")
    uuid: UUID = Field(strict=False)
    email: Text = Field(min_length=1, max_length=254)
    full_name: Text = Field("", max_length=255)


class ZulipRealm(BaseModel):
    """A realm as Zulip describes it (``RealmDataForAnalytics``). admit keeps its uuid, host,
    name, type and whether it is deactivated; the other fields (among them
    ``uuid_owner_secret``, which admit neither stores nor logs) are read past."""

    model_config = ConfigDict(strict=True, extra="ignore")
    uuid: UUID = Field(strict=False)
    # HOST_PATTERN admits no control character.
    host: StrictStr = Field(min_length=1, max_length=255, pattern=HOST_PATTERN)
    name: Text = Field("", max_length=255)
    org_type: StrictInt = Field(0, ge=0, le=10000)
    deactivated: StrictBool = False
    is_system_bot_realm: StrictBool = False


class AnalyticsRow(BaseModel):
    """A row of an analytics table: admit reads only its id (see docs/remote.md)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    id: StrictInt = Field(ge=0, le=2**63 - 1)


# --- The forms, as the OpenAPI document shows them ------------------------------------------


class ZulipRegisterForm(BaseModel):
    zulip_org_id: StrictStr = Field(
        pattern=UUID4_PATTERN, description="The server's id: a version-4 UUID it made"
    )
    zulip_org_key: StrictStr = Field(
        pattern=CHOSEN_KEY_PATTERN,
        description="The server's key: 64 characters it made (a server an operator added with"
        " admit's own key: that key)",
    )
    hostname: StrictStr = Field(max_length=255, pattern=HOST_PATTERN)
    # Printable ASCII around one @ (classes every regex engine reads alike); the address is
    # then checked as Django's validate_email checks it.
    contact_email: StrictStr = Field(max_length=254, pattern=r"^[!-?A-~]+@[!-?A-~]+$")
    new_org_key: StrictStr = Field(
        "",
        pattern=r"^([!-~]{64})?$",
        description="A new key (64 characters) to rotate to; empty or absent: none",
    )


class ZulipBillingForm(BaseModel):
    user: Text = Field(
        min_length=1, max_length=4096, description='JSON: {"uuid", "email", "full_name"}'
    )
    realm: Text = Field(
        min_length=1,
        max_length=16384,
        description='JSON: Zulip\'s realm fields; admit reads "uuid", "host", "name", '
        '"org_type", "deactivated" and ignores the rest',
    )
    uri_scheme: Literal["https://", "http://"] = "https://"
    next_page: Text | None = Field(
        None,
        description="A name from [remote.next_pages]",
        json_schema_extra=lambda schema: names_of_next_pages(schema),
    )


class ZulipAnalyticsForm(BaseModel):
    realm_counts: Text = Field(
        min_length=1, description="JSON list of rows; admit keeps only the highest id"
    )
    installation_counts: Text = Field(min_length=1, description="JSON list of rows; likewise")
    realmauditlog_rows: Text | None = Field(None, description="JSON list of rows; likewise")
    realms: Text | None = Field(None, description="JSON list of realms (as in a billing request)")
    version: Text | None = Field(None, description='JSON string, e.g. "\\"10.1\\""')
    merge_base: Text | None = Field(None, description="JSON string; read past")
    api_feature_level: Text | None = Field(None, description="JSON whole number")


# --- The answers ---------------------------------------------------------------------------


class ZulipOk(Schema):
    result: Literal["success"] = "success"
    msg: str = ""


class ZulipRegistered(ZulipOk):
    created: bool


class ZulipBillingLink(ZulipOk):
    billing_access_url: str


class ZulipAnalyticsStatus(ZulipOk):
    last_realm_count_id: int
    last_installation_count_id: int
    last_realmauditlog_id: int


class ZulipRealmPushStatus(Schema):
    can_push: Literal[False] = False  # admit relays no push notification
    expected_end_timestamp: None = None


class ZulipAnalyticsTaken(ZulipOk):
    realms: dict[str, ZulipRealmPushStatus]


class ZulipErrorOut(Schema):
    result: Literal["error"] = "error"
    msg: str
    code: str
