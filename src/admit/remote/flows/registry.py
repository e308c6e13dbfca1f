"""Registering remote servers and checking their credentials."""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection

from admit.audit.log import AuditEntry, audited
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError, Unauthenticated
from admit.core.ratelimit import Counter
from admit.core.secrets import digest, new_secret
from admit.remote import queries
from admit.remote.models import HOST_PATTERN, RemoteRealm, RemoteServer
from admit.remote.queries import ServerAndRealm

KEY_PREFIX = "zsrv"
# Compared against when the uuid is unknown, so every refusal costs the same.
_NO_SERVER_DIGEST = digest("no such server")


class ServerUnauthorized(Unauthenticated):
    """Unknown server, wrong key, or deactivated: one answer."""

    def __init__(self, reason: str):
        super().__init__(Code.NOT_ALLOWED, reason)


@dataclass(frozen=True)
class Registered:
    server: RemoteServer
    key: str


def check_registration(hostname: str, contact_email: str) -> None:
    if not re.fullmatch(HOST_PATTERN, hostname) or len(hostname) > 255:
        problem = "is not a host name (like chat.example.com or host:8443)"
        raise InputError(
            Code.INPUT_INVALID,
            f"hostname {hostname!r} {problem}",
            details=[{"field": "hostname", "problem": problem}],
        )
    try:
        validate_email(contact_email)
    except ValidationError as exc:
        raise InputError(
            Code.EMAIL_INVALID,
            f"{contact_email!r} is not an e-mail address",
            details=[{"field": "contact_email", "problem": "is not an e-mail address"}],
        ) from exc


def add_server(
    hostname: str,
    contact_email: str,
    caller: Caller,
    *,
    server_uuid: str | None = None,
    key: str | None = None,
) -> Registered:
    """A new registration. admit picks the uuid and the key unless they are given: a Zulip
    server keeps the ``zulip_org_id`` and ``zulip_org_key`` it generated at install time, and
    the operator registers those."""
    check_registration(hostname, contact_email)
    parsed = uuid.uuid4() if server_uuid is None else _parsed(server_uuid)
    if parsed is None:
        raise InputError(
            Code.INPUT_INVALID,
            f"{server_uuid!r} is not a UUID",
            details=[{"field": "uuid", "problem": "is not a UUID"}],
        )
    if key is not None:
        check_chosen_key(key, "key")
    with audited("remote.server.register", caller) as audit:
        if RemoteServer.objects.filter(uuid=parsed).exists():
            raise InputError(
                Code.INPUT_INVALID,
                f"a server with uuid {parsed} is already registered",
                details=[{"field": "uuid", "problem": "is already registered"}],
            )
        key = key if key is not None else new_secret(KEY_PREFIX)
        server = RemoteServer.objects.create(
            uuid=parsed,
            key_digest=digest(key),
            hostname=hostname,
            contact_email=contact_email,
            registered_at=clock.now(),
        )
        audit.remote_server_uuid = server.uuid
        audit.extra_data = {"hostname": hostname}
        return Registered(server, key)


# A key a server chose itself: Zulip's are 64 characters (``zulip_org_key``); at least 32
# printable ASCII characters without spaces keeps a random one above 128 bits.
CHOSEN_KEY_PATTERN = r"^[!-~]{32,255}$"


def check_chosen_key(key: str, field: str) -> None:
    if not re.fullmatch(CHOSEN_KEY_PATTERN, key):
        problem = "must be 32 to 255 printable ASCII characters without spaces"
        raise InputError(
            Code.INPUT_INVALID, f"{field} {problem}", details=[{"field": field, "problem": problem}]
        )


def find_server(server_uuid: str) -> RemoteServer:
    parsed = _parsed(server_uuid)
    server = queries.server_and_realm(parsed, None).server if parsed else None
    if server is None:
        raise AdmitError(Code.NOT_ALLOWED, f"no remote server {server_uuid}")
    return server


def _parsed(server_uuid: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(server_uuid))
    except ValueError:
        return None


def rotate_key(server_uuid: str, caller: Caller) -> Registered:
    with audited("remote.server.rotate_key", caller) as audit:
        server = find_server(server_uuid)
        audit.remote_server_uuid = server.uuid
        key = new_secret(KEY_PREFIX)
        server.key_digest = digest(key)
        server.save(update_fields=["key_digest"])
        return Registered(server, key)


def set_deactivated(
    server_uuid: str, deactivated: bool, caller: Caller, actor: str = ""
) -> RemoteServer:
    event = "remote.server.deactivate" if deactivated else "remote.server.reactivate"
    with audited(event, caller) as audit:
        server = find_server(server_uuid)
        audit.remote_server_uuid = server.uuid
        if actor:
            audit.extra_data = {"by": actor}
        server.deactivated = deactivated
        server.deactivated_at = clock.now() if deactivated else None
        server.save(update_fields=["deactivated", "deactivated_at"])
        return server


def authenticate(
    server_uuid: str,
    key: str,
    audit: AuditEntry,
    realm_uuid: uuid.UUID | None = None,
    rate: tuple[str, tuple[int, int]] | None = None,
    *,
    reuse: bool = False,
) -> tuple[RemoteServer, RemoteRealm | None]:
    """The server behind these credentials and, when ``realm_uuid`` is given, the realm with
    that uuid if one is registered (to this server or another). Missing credentials, unknown
    server, wrong key and deactivated all raise the same 401; ``audit`` (the caller's flow's
    entry) records which it was, and the server's uuid whenever the server exists. ``rate``,
    a bucket and its limit, is then hit for this server, its count read in the same query.

    ``reuse`` (a flow of records only, on PostgreSQL): when this worker already let the same
    key in for the same server and realm, that answer stands in for the query, and the
    flow's records are guarded by it: they land only if the server, its key and the realm are
    still as they were and the count is under the limit, else ``GuardFailed`` is raised
    and the caller asks again without ``reuse``."""
    parsed = _parsed(server_uuid)
    counter = Counter(rate[0], str(parsed), rate[1]) if rate and parsed else None
    key_digest = digest(key)
    reused = _reusable((parsed, realm_uuid), key_digest) if reuse else None
    if reused is not None:
        unit_of_work.records_only(guard=queries.still_let_in(reused, counter))
        found = reused
    else:
        found = (
            queries.server_and_realm(parsed, realm_uuid, counter)
            if parsed
            else ServerAndRealm(None, None)
        )
    server = found.server
    key_matches = hmac.compare_digest(
        key_digest, server.key_digest if server else _NO_SERVER_DIGEST
    )
    if server is not None:
        audit.remote_server_uuid = server.uuid
    if not server_uuid:
        reason = "no server credentials"
    elif server is None:
        reason = "unknown remote server"
    elif not key_matches:
        reason = "wrong server key"
    elif server.deactivated:
        reason = "remote server is deactivated"
    else:
        reason = ""
    if reason:
        _let_in.pop((parsed, realm_uuid), None)
        audit.extra_data["refused"] = reason
        raise ServerUnauthorized(reason)
    assert server is not None
    if counter is not None:
        counter.hit(None if found is reused else found.counted)
    unit_of_work.before_commit(lambda: _seen(server))
    _remember(parsed, realm_uuid, found)
    return server, found.realm


# Per worker: what let a server's key in, for a server and realm, with the realm active and
# the server's own. Link requests come from a few servers for a few realms each, again and
# again; reused, this answer saves each of them a round trip. Bounded: cleared when full.
_let_in: dict[tuple[uuid.UUID | None, uuid.UUID | None], ServerAndRealm] = {}
_LET_IN_MAX = 10_000


def _reusable(
    server_and_realm: tuple[uuid.UUID | None, uuid.UUID | None], key_digest: str
) -> ServerAndRealm | None:
    found = _let_in.get(server_and_realm)
    if found is None or found.server is None:
        return None
    return found if hmac.compare_digest(key_digest, found.server.key_digest) else None


def _remember(
    server_uuid: uuid.UUID | None, realm_uuid: uuid.UUID | None, found: ServerAndRealm
) -> None:
    """Keep ``found`` for the next request, when the realm is the server's own and active."""
    server, realm = found.server, found.realm
    if (
        connection.vendor != "postgresql"
        or server is None
        or realm is None
        or realm.server_id != server.pk
        or realm.deactivated
        or realm.locally_deleted
    ):
        _let_in.pop((server_uuid, realm_uuid), None)
        return
    if len(_let_in) >= _LET_IN_MAX:
        _let_in.clear()
    _let_in[(server_uuid, realm_uuid)] = found


SEEN_RESOLUTION = timedelta(seconds=10)


def _seen(server: RemoteServer) -> None:
    """Record the request time, to the nearest ten seconds: every request writing the server's
    row would make all of one server's requests wait for each other on its lock."""
    now = clock.now()
    if server.last_request_at is None or now - server.last_request_at >= SEEN_RESOLUTION:
        unit_of_work.update_later(server, last_seen_at=now, last_request_at=now)
