"""What a Zulip server asks of its "bouncer" besides log-in links: registering itself, reporting
the realms it hosts (inside its analytics upload), and ending its own registration.

The reference is Zulip's ``zilencer/views.py`` (``register_remote_server``,
``remote_server_post_analytics``, ``remote_server_check_analytics``,
``deactivate_remote_server``). admit takes from these calls what its log-in flow needs, the
server and its realms, and nothing else: it relays no push notification and keeps no usage
statistics (see docs/remote.md).
"""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.core import clock, ratelimit
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError
from admit.core.secrets import digest
from admit.remote.flows.registry import (
    ServerUnauthorized,
    authenticate,
    check_chosen_key,
    check_registration,
)
from admit.remote.models import RemoteRealm, RemoteServer

# Zulip's ``validate_uuid``: the canonical text of a version-4 UUID, nothing else.
UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_UUID4 = re.compile(UUID4_PATTERN)
# Zulip's RemoteZulipServer.API_KEY_LENGTH: a key a Zulip server generates has 64 characters.
ORG_KEY_LENGTH = 64


class KeyMismatch(AdmitError):
    """Registration named a known server with another key (Zulip: INVALID_ZULIP_SERVER)."""

    def __init__(self, server_uuid: str):
        super().__init__(Code.NOT_ALLOWED, "wrong server key at registration")
        self.server_uuid = server_uuid


class RegistrationClosed(AdmitError):
    """``[remote] allow_self_registration`` is off and nobody added this server."""

    def __init__(self) -> None:
        super().__init__(Code.NOT_ALLOWED, "self-registration is off")


@dataclass(frozen=True)
class ServerRegistration:
    org_id: str
    org_key: str
    hostname: str
    contact_email: str
    new_org_key: str | None = None


@dataclass(frozen=True)
class ReportedRealm:
    uuid: uuid.UUID
    host: str
    name: str
    org_type: int
    deactivated: bool
    is_system_bot_realm: bool = False


@dataclass(frozen=True)
class AnalyticsUpload:
    """The part of Zulip's upload that admit reads: the row ids (to answer the next status
    call), the server's version, and its realms (None: the server did not send them)."""

    realm_count_ids: list[int] = field(default_factory=list)
    installation_count_ids: list[int] = field(default_factory=list)
    realmauditlog_ids: list[int] = field(default_factory=list)
    realms: list[ReportedRealm] | None = None
    version: str | None = None
    api_feature_level: int | None = None


def _bad(field_name: str, problem: str) -> InputError:
    return InputError(
        Code.INPUT_INVALID,
        f"{field_name} {problem}",
        details=[{"field": field_name, "problem": problem}],
    )


def _check_org_key(key: str, field_name: str) -> None:
    if len(key) != ORG_KEY_LENGTH:
        raise _bad(field_name, f"must be {ORG_KEY_LENGTH} characters long")
    check_chosen_key(key, field_name)


def register_server(registration: ServerRegistration, caller: Caller) -> bool:
    """Zulip's ``register_server``: True when the server is new here, False when a known
    server (the same id and key) updated its hostname, contact and, with ``new_org_key``, its
    key. A new server is taken only with ``[remote] allow_self_registration``."""
    policy = settings.ADMIT_POLICY.remote
    with audited("remote.server.self_register", caller) as audit:
        ratelimit.hit(
            "remote-register-address", caller.remote_ip or "", policy.registrations_per_address
        )
        if not _UUID4.fullmatch(registration.org_id):
            raise _bad("zulip_org_id", "is not a version-4 UUID in canonical form")
        audit.extra_data = {"hostname": registration.hostname[:255]}
        server = RemoteServer.objects.select_for_update().filter(uuid=registration.org_id).first()
        if server is None and not policy.allow_self_registration:
            # First: nothing else this request holds could make it succeed.
            audit.extra_data["refused"] = "self-registration is off"
            raise RegistrationClosed()
        if not registration.org_key:
            raise _bad("zulip_org_key", "is missing")
        check_registration(registration.hostname, registration.contact_email)
        if registration.new_org_key is not None:
            _check_org_key(registration.new_org_key, "new_org_key")
        if server is None:
            _check_org_key(registration.org_key, "zulip_org_key")
            try:
                with transaction.atomic():
                    server = RemoteServer.objects.create(
                        uuid=registration.org_id,
                        key_digest=digest(registration.new_org_key or registration.org_key),
                        hostname=registration.hostname,
                        contact_email=registration.contact_email,
                        registered_at=clock.now(),
                        last_seen_at=clock.now(),
                    )
            except IntegrityError:  # the same id registered a moment ago: that one stands
                server = RemoteServer.objects.select_for_update().get(uuid=registration.org_id)
            else:
                audit.remote_server_uuid = server.uuid
                return True
        audit.remote_server_uuid = server.uuid
        if not hmac.compare_digest(digest(registration.org_key), server.key_digest):
            audit.extra_data["refused"] = "wrong server key"
            raise KeyMismatch(registration.org_id)
        if server.deactivated:
            audit.extra_data["refused"] = "remote server is deactivated"
            raise ServerUnauthorized("remote server is deactivated")
        server.hostname = registration.hostname
        server.contact_email = registration.contact_email
        server.last_seen_at = clock.now()
        if registration.new_org_key is not None:
            server.key_digest = digest(registration.new_org_key)
            audit.extra_data["key_rotated"] = True
        server.save(update_fields=["hostname", "contact_email", "last_seen_at", "key_digest"])
        return False


def refuse_input(server_uuid: str, key: str, event: str, error: AdmitError, caller: Caller) -> None:
    """Refuse a call whose form is malformed, as Zulip's bouncer does: the credentials first
    (an unknown server, a wrong key or a deactivated server is 401 whatever it sent), then the
    form. Audited under ``event`` like the call itself."""
    with audited(event, caller) as audit:
        authenticate(server_uuid, key, audit)
        raise error


def analytics_status(server_uuid: str, key: str, caller: Caller) -> dict[str, int]:
    """The highest row ids the server has sent; Zulip sends only rows above them."""
    with audited("remote.server.analytics_status", caller) as audit:
        server, _ = authenticate(server_uuid, key, audit)
        return {
            "last_realm_count_id": server.last_realm_count_id,
            "last_installation_count_id": server.last_installation_count_id,
            "last_realmauditlog_id": server.last_realmauditlog_id,
        }


def _check_order(ids: list[int], after: int, field_name: str) -> int:
    """Zulip's rule: each batch continues where the last one ended, in increasing order."""
    for row_id in ids:
        if row_id <= after:
            raise _bad(field_name, "is out of order (Data is out of order.)")
        after = row_id
    return after


def upload_analytics(
    server_uuid: str, key: str, upload: AnalyticsUpload, caller: Caller
) -> list[uuid.UUID]:
    """Take a server's upload: its realms are registered or updated (a realm it no longer
    reports is marked as deleted there), the row ids remembered, the rows themselves dropped.
    Answers the uuids of the realms it reported and admit keeps."""
    with audited("remote.server.analytics", caller) as audit:
        found, _ = authenticate(server_uuid, key, audit)
        # One upload at a time per server: Zulip retries, and two must not interleave.
        server = RemoteServer.objects.select_for_update().get(pk=found.pk)
        marks = {
            "last_realm_count_id": _check_order(
                upload.realm_count_ids, server.last_realm_count_id, "realm_counts"
            ),
            "last_installation_count_id": _check_order(
                upload.installation_count_ids,
                server.last_installation_count_id,
                "installation_counts",
            ),
            "last_realmauditlog_id": _check_order(
                upload.realmauditlog_ids, server.last_realmauditlog_id, "realmauditlog_rows"
            ),
        }
        kept: list[uuid.UUID] = []
        if upload.realms is not None:
            kept = _sync_realms(server, upload.realms)
        for name, value in marks.items():
            setattr(server, name, value)
        server.last_analytics_at = clock.now()
        if upload.version is not None:
            server.last_version = upload.version[:128]
        server.last_api_feature_level = upload.api_feature_level
        server.save(
            update_fields=[
                *marks,
                "last_analytics_at",
                "last_version",
                "last_api_feature_level",
            ]
        )
        audit.extra_data = {
            "realms": [str(realm_uuid) for realm_uuid in kept],
            "rows": sum(
                len(ids)
                for ids in (
                    upload.realm_count_ids,
                    upload.installation_count_ids,
                    upload.realmauditlog_ids,
                )
            ),
        }
        return kept


def _sync_realms(server: RemoteServer, reported: list[ReportedRealm]) -> list[uuid.UUID]:
    """Zulip's ``update_remote_realm_data_for_server``, for what admit keeps of a realm. A
    realm registered to another server refuses the whole upload before anything is written
    (Zulip: "Duplicate registration detected."). The server's system-bot realm has no people
    to log in and is not kept."""
    people_realms = {realm.uuid: realm for realm in reported if not realm.is_system_bot_realm}
    if len(people_realms) > 1000:
        raise _bad("realms", "holds more than 1000 realms")
    if RemoteRealm.objects.filter(uuid__in=people_realms).exclude(server=server).exists():
        raise _bad("realms", "names a realm registered to another server")
    now = clock.now()
    known = {realm.uuid: realm for realm in RemoteRealm.objects.filter(server=server)}
    for realm_uuid, info in people_realms.items():
        values = {
            "host": info.host,
            "name": info.name,
            "org_type": info.org_type,
            "deactivated": info.deactivated,
            "locally_deleted": False,
        }
        realm = known.get(realm_uuid)
        if realm is None:
            try:
                with transaction.atomic():
                    RemoteRealm.objects.create(
                        server=server, uuid=realm_uuid, registered_at=now, updated_at=now, **values
                    )
            except IntegrityError as exc:  # another server took the uuid a moment ago
                raise _bad("realms", "names a realm registered to another server") from exc
        elif any(getattr(realm, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(realm, name, value)
            realm.updated_at = now
            realm.save(update_fields=[*values, "updated_at"])
    RemoteRealm.objects.filter(server=server, locally_deleted=False).exclude(
        uuid__in=people_realms
    ).update(locally_deleted=True, updated_at=now)
    return list(people_realms)


def deactivate_own_registration(server_uuid: str, key: str, caller: Caller) -> None:
    """Zulip's ``manage.py register_server --deactivate``: the server ends its registration.
    It can no longer ask for links; an operator can reactivate it."""
    with audited("remote.server.deactivate", caller) as audit:
        server, _ = authenticate(server_uuid, key, audit)
        audit.extra_data = {"by": "the server itself"}
        server.deactivated = True
        server.deactivated_at = clock.now()
        server.save(update_fields=["deactivated", "deactivated_at"])
