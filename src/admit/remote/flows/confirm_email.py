"""A first-time log-in through a remote server's link: e-mail a confirmation link to the
address the person gives, and on confirmation create the remote user and hand back a fresh
signed link."""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.confirmations import engine as confirmations
from admit.core import clock
from admit.core.context import Caller
from admit.core.emails import email_problems, operator_rules
from admit.core.errors import Code, InputError
from admit.core.names import normalize_email
from admit.core.ratelimit import hit
from admit.mail.outbox import enqueue
from admit.remote import tokens
from admit.remote.models import (
    Preregistration,
    RemoteRealm,
    RemoteRealmUser,
    RemoteServer,
    RemoteServerUser,
)

REMOTE_EMAIL = "remote_email"
AccountT = TypeVar("AccountT", RemoteRealmUser, RemoteServerUser)


def send_confirmation(identity: tokens.Identity, email: str, caller: Caller) -> None:
    limits = settings.ADMIT_POLICY.remote
    with audited("remote.email_confirmation", caller) as audit:
        server = RemoteServer.objects.get(uuid=identity.server_uuid)
        realm = RemoteRealm.objects.get(uuid=identity.realm_uuid) if identity.realm_uuid else None
        audit.remote_server_uuid, audit.remote_realm_uuid = (
            server.uuid,
            realm.uuid if realm else None,
        )
        if caller.remote_ip:
            hit(
                "remote-confirm-address",
                caller.remote_ip,
                limits.confirmation_emails_per_address,
            )
        hit("remote-confirm-server", str(server.uuid), limits.confirmation_emails_per_server)
        if email_problems(email, operator_rules(settings.ADMIT_POLICY)):
            raise InputError(Code.EMAIL_INVALID, "not a valid e-mail address")
        preregistration = Preregistration.objects.create(
            server=server,
            realm=realm,
            user_uuid=identity.user_uuid,
            email=email,
            full_name=identity.full_name,
            uri_scheme=identity.uri_scheme,
            next_page=identity.next_page or "",
            created_at=clock.now(),
        )
        key = confirmations.create(preregistration, REMOTE_EMAIL)
        link = f"{settings.ADMIT_BASE_URL}/remote-login/confirm/{key}/"
        enqueue(
            "remote_confirm",
            email,
            {"link": link, "realm": realm, "server": server, "full_name": identity.full_name},
        )


def confirm_email(key: str, caller: Caller) -> tokens.Identity:
    """Creates the remote user (once, however many links are clicked) and returns the
    identity for a fresh signed link."""
    with audited("remote.email_confirmed", caller) as audit:
        confirmation = confirmations.lookup(key, kinds=(REMOTE_EMAIL,))
        confirmations.spend(confirmation)
        preregistration = Preregistration.objects.select_for_update().get(pk=confirmation.object_id)
        server, realm = preregistration.server, preregistration.realm
        audit.remote_server_uuid, audit.remote_realm_uuid = (
            server.uuid,
            realm.uuid if realm else None,
        )
        if realm is not None:
            realm_user = _realm_user(preregistration)
            preregistration.created_realm_user = realm_user
        else:
            preregistration.created_server_user = _server_user(preregistration)
        preregistration.status = Preregistration.Status.USED
        preregistration.save(update_fields=["status", "created_realm_user", "created_server_user"])
        audit.extra_data = {"email": preregistration.email}
        return tokens.new_identity(
            server_uuid=str(server.uuid),
            realm_uuid=str(realm.uuid) if realm else None,
            user_uuid=str(preregistration.user_uuid) if preregistration.user_uuid else None,
            email=preregistration.email,
            full_name=preregistration.full_name,
            uri_scheme=preregistration.uri_scheme,
            next_page=preregistration.next_page or None,
        )


def _realm_user(preregistration: Preregistration) -> RemoteRealmUser:
    assert preregistration.user_uuid is not None  # realm pre-registrations carry the user's uuid
    lookup = {"realm": preregistration.realm, "user_uuid": preregistration.user_uuid}
    return _get_or_create_once(RemoteRealmUser, lookup, preregistration)


def _server_user(preregistration: Preregistration) -> RemoteServerUser:
    lookup = {"server": preregistration.server, "email_key": normalize_email(preregistration.email)}
    return _get_or_create_once(RemoteServerUser, lookup, preregistration)


def _get_or_create_once(
    model: type[AccountT], lookup: dict[str, Any], preregistration: Preregistration
) -> AccountT:
    """The remote user, made once however many confirmation links are clicked, concurrently
    or not: the unique constraint decides, and the loser reads the winner's row."""
    defaults = {
        "email": preregistration.email,
        "full_name": preregistration.full_name,
        "date_joined": clock.now(),
    }
    try:
        with transaction.atomic():
            return model.objects.get_or_create(**lookup, defaults=defaults)[0]
    except IntegrityError:
        return model.objects.get(**lookup)
