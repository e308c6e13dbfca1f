"""The "Confirm login" page's POST (name, Terms of Service, the portal session), and the
known-user look-up behind both remote pages."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError
from admit.core.names import normalize_email
from admit.remote import queries, tokens
from admit.remote.models import (
    RemoteRealm,
    RemoteRealmUser,
    RemoteServer,
    RemoteServerUser,
    SpentLoginToken,
)

TOS_REQUIRED = "You must accept the Terms of Service to proceed."


class TokenReplayed(AdmitError):
    def __init__(self) -> None:
        super().__init__(Code.NOT_ALLOWED, "this log-in link has been used already")


class RegistrationDeactivated(AdmitError):
    def __init__(self) -> None:
        super().__init__(
            Code.NOT_ALLOWED, "the server's or the realm's registration is deactivated"
        )


def ensure_active(identity: tokens.Identity) -> None:
    """A link issued before its server (or realm) was deactivated logs no one in."""
    if identity.realm_uuid:
        active = RemoteRealm.objects.filter(
            uuid=identity.realm_uuid,
            server__uuid=identity.server_uuid,
            deactivated=False,
            server__deactivated=False,
        ).exists()
    else:
        active = RemoteServer.objects.filter(uuid=identity.server_uuid, deactivated=False).exists()
    if not active:
        raise RegistrationDeactivated()


def known_account(identity: tokens.Identity) -> RemoteRealmUser | RemoteServerUser | None:
    """The remote user this link is for, if they have logged in before."""
    if identity.realm_uuid and identity.user_uuid:
        return (
            RemoteRealmUser.objects.select_related("realm__server")
            .filter(realm__uuid=identity.realm_uuid, user_uuid=identity.user_uuid)
            .first()
        )
    if identity.realm_uuid or not identity.email:
        return None
    return RemoteServerUser.objects.filter(
        server__uuid=identity.server_uuid, email_key=normalize_email(identity.email)
    ).first()


def open_link(identity: tokens.Identity) -> RemoteRealmUser | RemoteServerUser | None:
    """The account behind a live link, or None for a first-time user.

    Raises ``TokenReplayed`` for a spent link, then ``RegistrationDeactivated``.
    """
    found = queries.realm_user_of_link(identity)
    if found is None:
        ensure_unspent(identity)
        ensure_active(identity)
        # A realm's link was answered by the query above: this is a first-time user.
        return None if identity.realm_uuid else known_account(identity)
    if found.link_spent:
        raise TokenReplayed()
    if found.registration_inactive:
        raise RegistrationDeactivated()
    return found.account


def _major(version: str) -> int:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0


def needs_tos(account: RemoteRealmUser | RemoteServerUser) -> bool:
    return _major(settings.ADMIT_POLICY.remote.tos_version) > _major(account.tos_version or "0")


def ensure_unspent(identity: tokens.Identity) -> None:
    if SpentLoginToken.objects.filter(nonce=identity.nonce).exists():
        raise TokenReplayed()


def confirm_login(
    identity: tokens.Identity, full_name: str, tos_accepted: bool, caller: Caller
) -> None:
    """Saves the name and the consent, and spends the link; the caller starts the portal session."""
    with audited("remote.login", caller) as audit:
        audit.remote_server_uuid = identity.server_uuid  # type: ignore[assignment]
        audit.remote_realm_uuid = identity.realm_uuid  # type: ignore[assignment]
        ensure_active(identity)
        account = known_account(identity)
        if account is None:
            raise AdmitError(Code.NOT_ALLOWED, "no remote user for this link")
        if needs_tos(account) and not tos_accepted:
            # The code alone (E005001) does not tell the operator why: the audit row does.
            audit.extra_data["refused"] = "Terms of Service not accepted"
            raise InputError(Code.NOT_ALLOWED, TOS_REQUIRED)
        try:
            with transaction.atomic():
                SpentLoginToken.objects.create(
                    nonce=identity.nonce, expires_at=identity.authenticated + tokens.max_age()
                )
        except IntegrityError as exc:
            raise TokenReplayed() from exc
        fields = ["last_login"]
        account.last_login = clock.now()
        if full_name.strip():
            account.full_name = full_name.strip()[:255]
            fields.append("full_name")
        if tos_accepted or needs_tos(account):
            audit.extra_data["tos_version"] = settings.ADMIT_POLICY.remote.tos_version
            account.tos_version = settings.ADMIT_POLICY.remote.tos_version
            fields.append("tos_version")
        account.save(update_fields=fields)
        audit.extra_data["email"] = account.email


def sweep_spent() -> int:
    return SpentLoginToken.objects.filter(expires_at__lt=clock.now()).delete()[0]
