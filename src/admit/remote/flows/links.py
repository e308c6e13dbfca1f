"""A remote server asks for a signed log-in link for one of its admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError
from admit.remote import tokens
from admit.remote.flows.registry import authenticate
from admit.remote.models import RemoteRealm, RemoteServer


class RealmOfAnotherServer(AdmitError):
    """The realm's uuid is registered to another server."""

    def __init__(self) -> None:
        super().__init__(Code.NOT_ALLOWED, "realm is registered to another server")


class RealmDeactivated(AdmitError):
    """The realm's server reported it deactivated: nobody logs in for it."""

    def __init__(self) -> None:
        super().__init__(Code.NOT_ALLOWED, "realm is deactivated")


class RealmNotRegistered(AdmitError):
    """The realm's server said in its last upload that it no longer hosts it: it must report
    it again (Zulip: MISSING_REMOTE_REALM, after which a Zulip server uploads and retries)."""

    def __init__(self) -> None:
        super().__init__(Code.NOT_ALLOWED, "realm is not reported by its server")


@dataclass(frozen=True)
class RealmInfo:
    uuid: uuid.UUID
    host: str
    name: str = ""
    org_type: int = 0


@dataclass(frozen=True)
class LinkRequest:
    user_uuid: uuid.UUID
    email: str
    full_name: str
    realm: RealmInfo
    uri_scheme: str
    next_page: str | None = None


def check_next_page(next_page: str | None) -> None:
    if next_page is not None and next_page not in settings.ADMIT_POLICY.remote.next_pages:
        allowed = ", ".join(sorted(settings.ADMIT_POLICY.remote.next_pages))
        problem = f"must be one of: {allowed}"
        raise InputError(
            Code.INPUT_INVALID,
            f"next_page {problem}",
            details=[{"field": "next_page", "problem": problem}],
        )


def request_login_link(server_uuid: str, key: str, request: LinkRequest, caller: Caller) -> str:
    """A signed log-in link. Its writes (the audit row, the rate count, the server's last
    request time) go to the database together at the end as one statement, committed without
    waiting for the disk: they are records, and the link itself lives in its signature.
    Registering a realm seen for the first time, or its new name, is committed on its own when
    it happens: a registration stands whether or not a link is then issued.

    A server asking again for the same realm with the same key is let in on what this worker
    found the last time, guarded (``registry.authenticate``): that statement is then the
    request's only round trip."""
    try:
        return _issue_link(server_uuid, key, request, caller, reuse=True)
    except (
        unit_of_work.GuardFailed
    ):  # the server, its key, the realm or the count changed meanwhile
        return _issue_link(server_uuid, key, request, caller, reuse=False)


def _issue_link(
    server_uuid: str, key: str, request: LinkRequest, caller: Caller, *, reuse: bool
) -> str:
    with audited("remote.login_link", caller, deferred=True) as audit:
        unit_of_work.records_only()
        rate = ("remote-links-server", settings.ADMIT_POLICY.remote.link_requests_per_server)
        server, known_realm = authenticate(
            server_uuid, key, audit, request.realm.uuid, rate, reuse=reuse
        )
        audit.remote_realm_uuid = request.realm.uuid
        check_next_page(request.next_page)
        realm = register_realm(server, request.realm, known_realm)
        audit.extra_data = {"user_uuid": str(request.user_uuid), "next_page": request.next_page}
        identity = tokens.new_identity(
            server_uuid=str(server.uuid),
            realm_uuid=str(realm.uuid),
            user_uuid=str(request.user_uuid),
            email=request.email,
            full_name=request.full_name,
            uri_scheme=request.uri_scheme,
            next_page=request.next_page,
        )
        return tokens.url(identity)


def register_realm(
    server: RemoteServer, info: RealmInfo, realm: RemoteRealm | None, *, reported: bool = False
) -> RemoteRealm:
    """The realm, registered on the fly for its server when ``realm`` (the one registered with
    that uuid, looked up by the caller) is None; a realm of another server is refused. A realm
    its server stopped reporting is refused too, unless the server now ``reported`` it."""
    now = clock.now()
    if realm is None:
        try:
            with transaction.atomic():
                return RemoteRealm.objects.create(
                    server=server,
                    uuid=info.uuid,
                    host=info.host,
                    name=info.name,
                    org_type=info.org_type,
                    registered_at=now,
                    updated_at=now,
                )
        except IntegrityError:  # registered by a concurrent request a moment ago
            realm = RemoteRealm.objects.get(uuid=info.uuid)
    if realm.server_id != server.pk:
        raise RealmOfAnotherServer()
    if realm.deactivated:
        raise RealmDeactivated()
    if realm.locally_deleted:
        if not reported:
            raise RealmNotRegistered()
        realm.locally_deleted = False
        realm.save(update_fields=["locally_deleted"])
    if (realm.host, realm.name, realm.org_type) != (info.host, info.name, info.org_type):
        # Written only when something changed, so link requests do not queue on the row.
        realm.host, realm.name, realm.org_type, realm.updated_at = (
            info.host,
            info.name,
            info.org_type,
            now,
        )
        realm.save(update_fields=["host", "name", "org_type", "updated_at"])
    return realm


def register_realms(
    server_uuid: str, key: str, version: str, realms: list[RealmInfo], caller: Caller
) -> int:
    """The server reports its version and the realms it hosts; returns how many it reported."""
    with audited("remote.server.realms", caller) as audit:
        server, _ = authenticate(server_uuid, key, audit)
        audit.extra_data = {
            "version": version[:128],
            "realms": [str(realm.uuid) for realm in realms],
        }
        for info in realms:
            register_realm(
                server, info, RemoteRealm.objects.filter(uuid=info.uuid).first(), reported=True
            )
        if version and version != server.last_version:
            RemoteServer.objects.filter(pk=server.pk).update(last_version=version[:128])
        return len(realms)
