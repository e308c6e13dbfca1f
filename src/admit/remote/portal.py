"""The portal session: the identity of a remote admin who confirmed a log-in, kept in
Django's session for ``[remote] portal_session_max_age`` seconds from authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from admit.core import clock
from admit.remote import tokens
from admit.remote.models import RemoteRealm, RemoteServer

SESSION_KEY = "admit_portal"


@dataclass(frozen=True)
class PortalState:
    identity: dict[str, Any] | None
    expired: bool


def start(request: HttpRequest, identity: tokens.Identity, email: str, full_name: str) -> None:
    request.session.cycle_key()  # a new session id at log-in: no session fixation
    request.session[SESSION_KEY] = {
        "user": {"uuid": identity.user_uuid, "email": email, "full_name": full_name},
        "remote_server_uuid": identity.server_uuid,
        "remote_realm_uuid": identity.realm_uuid,
        "authenticated_at": clock.now().timestamp(),
        "next_page": identity.next_page,
        "uri_scheme": identity.uri_scheme,
    }


def state(request: HttpRequest) -> PortalState:
    identity = request.session.get(SESSION_KEY)
    if identity is None:
        return PortalState(None, expired=False)
    if not _still_registered(identity):  # the operator deleted the server or the realm
        end(request)
        return PortalState(None, expired=False)
    age = clock.now().timestamp() - identity["authenticated_at"]
    if age > timedelta(seconds=settings.ADMIT_POLICY.remote.portal_session_max_age).total_seconds():
        return PortalState(identity, expired=True)
    return PortalState(identity, expired=False)


def _still_registered(identity: dict[str, Any]) -> bool:
    if identity["remote_realm_uuid"]:
        return RemoteRealm.objects.filter(
            uuid=identity["remote_realm_uuid"], server__uuid=identity["remote_server_uuid"]
        ).exists()
    return RemoteServer.objects.filter(uuid=identity["remote_server_uuid"]).exists()


@dataclass(frozen=True)
class Header:
    """What the portal's pages show in their header: whose portal it is."""

    name: str
    server_level: bool


def header(identity: dict[str, Any]) -> Header:
    if identity["remote_realm_uuid"]:
        realm = RemoteRealm.objects.filter(uuid=identity["remote_realm_uuid"]).first()
        if realm is not None:
            return Header(realm.name or realm.host, server_level=False)
    server = RemoteServer.objects.filter(uuid=identity["remote_server_uuid"]).first()
    return Header(server.hostname if server else "", server_level=True)


def end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def next_path(next_page: str | None) -> str:
    pages = settings.ADMIT_POLICY.remote.next_pages
    return pages.get(next_page or "overview", pages["overview"])
