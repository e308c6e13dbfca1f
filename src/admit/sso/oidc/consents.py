"""A person's answers to clients that ask for consent, kept until the person revokes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from admit.core import clock
from admit.core.context import Caller
from admit.sso.models import User
from admit.sso.oidc.models import AccessToken, Client, Consent, Grant, IDToken, RefreshToken
from admit.sso.oidc.record import record

# What a scope lets an app see, in the words the consent page and the account page use.
SCOPE_WORDS = {
    "openid": "know who you are (your account's id)",
    "profile": "see your username and your name",
    "email": "see your e-mail address and whether it is confirmed",
}


@dataclass(frozen=True)
class AppWithAccess:
    client_id: str
    app: str
    scopes: list[str]
    granted_at: datetime

    @property
    def what(self) -> list[str]:
        """What the app may see, in words (a scope admit has no words for: the scope)."""
        return [SCOPE_WORDS.get(scope, scope) for scope in self.scopes]


def covers(user: User, client: Client, scopes: list[str]) -> bool:
    consent = Consent.objects.filter(user=user, client=client).first()
    return consent is not None and consent.covers(scopes)


def grant(user: User, client: Client, scopes: list[str]) -> None:
    """Yes to ``scopes``, added to what the person said yes to before."""
    with transaction.atomic():
        consent, created = Consent.objects.select_for_update().get_or_create(
            user=user,
            client=client,
            defaults={"scope": " ".join(scopes), "granted_at": clock.now()},
        )
        if not created:
            consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scopes)))
            consent.granted_at = clock.now()
            consent.save(update_fields=["scope", "granted_at"])


def apps_with_access(user: User) -> list[AppWithAccess]:
    rows = Consent.objects.filter(user=user).select_related("client").order_by("-granted_at")
    return [
        AppWithAccess(row.client.client_id, row.client.app, row.scope.split(), row.granted_at)
        for row in rows
    ]


def revoke(user: User, client_id: str, caller: Caller | None = None) -> bool:
    """Withdraw the consent and every code and token the client holds for the person.
    With ``caller`` (the person on their account page), an ``oidc.consent_revoke`` audit row
    is written when there was a consent to withdraw."""
    with transaction.atomic():
        client = Client.objects.filter(client_id=client_id).first()
        if client is None:
            return False
        found = Consent.objects.filter(user=user, client=client).delete()[0] > 0
        for model in (Grant, RefreshToken, AccessToken, IDToken):
            model.objects.filter(user=user, application=client).delete()
        if found and caller is not None:
            record("oidc.consent_revoke", caller, client, user.user_id)
        return found
