"""/api/v1/remotes/: what remote servers call, and the portal identity for the operator's apps."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router

from admit.core.errors import Code, Unauthenticated
from admit.http.jsonbody import answer, documented_body, read_body
from admit.http.requests import caller_of
from admit.http.schemas import ERRORS, ErrorOut, utc
from admit.remote import portal
from admit.remote.flows.links import LinkRequest, RealmInfo, register_realms, request_login_link
from admit.remote.schemas import (
    LoginLinkIn,
    LoginLinkOut,
    PortalSessionOut,
    RegisteredOut,
    RegisterIn,
)

router = Router(tags=["remote servers"])


def basic_credentials(request: HttpRequest) -> tuple[str, str]:
    """The server uuid and key of an HTTP Basic header; two empty strings when the header is
    missing or malformed, which the flow refuses (401) and audits like a wrong key."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    server_uuid, separator, key = decoded.partition(":")
    if scheme.lower() != "basic" or not separator or not server_uuid:
        return "", ""
    return server_uuid, key


@router.post(
    "server/login-link",
    response={200: LoginLinkOut, 401: ErrorOut, **ERRORS},
    summary="A signed log-in link for one of the server's admins",
    description="HTTP Basic with the server's uuid and key. Registers the realm on first use.",
    openapi_extra=documented_body(LoginLinkIn),
)
def login_link(request: HttpRequest) -> HttpResponse:
    payload = read_body(request, LoginLinkIn)
    server_uuid, key = basic_credentials(request)
    link_request = LinkRequest(
        user_uuid=payload.user.uuid,
        email=payload.user.email,
        full_name=payload.user.full_name,
        realm=RealmInfo(
            payload.realm.uuid, payload.realm.host, payload.realm.name, payload.realm.org_type
        ),
        uri_scheme=payload.uri_scheme,
        next_page=payload.next_page,
    )
    url = request_login_link(server_uuid, key, link_request, caller_of(request))
    return answer(LoginLinkOut(login_url=url))


def admit_register(request: HttpRequest) -> HttpResponse:
    """admit's own ``POST server/register`` (a JSON body; HTTP Basic with the server's uuid and
    key): the server reports its version and the realms it hosts; another server's realm is
    403. The route itself is ``admit.remote.zulip_api.register``, which Zulip shares."""
    payload = read_body(request, RegisterIn)
    server_uuid, key = basic_credentials(request)
    realms = [
        RealmInfo(realm.uuid, realm.host, realm.name, realm.org_type) for realm in payload.realms
    ]
    count = register_realms(server_uuid, key, payload.version, realms, caller_of(request))
    return answer(RegisteredOut(realms=count))


@router.get(
    "session",
    response={200: PortalSessionOut, 401: ErrorOut, 414: ErrorOut},
    summary="The portal identity of the person behind this browser session",
)
def session(request: HttpRequest) -> dict:
    current = portal.state(request)
    if current.identity is None or current.expired:
        raise Unauthenticated(Code.NOT_ALLOWED, "not authenticated")
    identity = dict(current.identity)
    identity["authenticated_at"] = utc(datetime.fromtimestamp(identity["authenticated_at"], tz=UTC))
    return identity
