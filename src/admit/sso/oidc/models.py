"""The provider's data: clients, consents, and django-oauth-toolkit's grants and tokens.

The five models are django-oauth-toolkit's own (``oauth2_provider.models.Abstract*``, swapped
in through the ``OAUTH2_PROVIDER_*_MODEL`` settings, its documented way to extend them) with
what admit adds:

- every code and token belongs to the admit session (``sso.Session``) it was issued under, so
  ending that session -- by its owner, a super-user, a lock, a password change or reset, a
  deletion, the expiry sweep -- deletes them with it (``on_delete=CASCADE``);
- a client belongs to an app of ``[apps]``, may sign ID tokens with ES256, and says whether
  a refresh answer carries a new ID token;
- redirect URIs match exactly, character for character;
- the authorization code is kept as its SHA-256 digest, never as itself.

The session is handed to the rows that django-oauth-toolkit creates through
``admit.sso.oidc.issuing`` (see there).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models
from jwcrypto import jwk
from oauth2_provider import models as dot

from admit.sso.models import Session, User
from admit.sso.oidc import issuing


class Client(dot.AbstractApplication):
    """An OpenID Connect client (django-oauth-toolkit's Application) of one admit app."""

    ES256_ALGORITHM = "ES256"
    ALGORITHM_TYPES = (
        (dot.AbstractApplication.RS256_ALGORITHM, "RSA with SHA-256"),
        (ES256_ALGORITHM, "ECDSA P-256 with SHA-256"),
    )

    app = models.CharField(max_length=128, db_index=True)  # a name of [apps] all
    algorithm = models.CharField(  # type: ignore[assignment]
        max_length=5, choices=ALGORITHM_TYPES, default=dot.AbstractApplication.RS256_ALGORITHM
    )
    # Whether a refresh answer carries a new ID token (OpenID Connect Core 12.2 lets the
    # provider choose). Off for a new client: signing one is the largest part of what a
    # refresh costs, and a relying party keeps the ID token of the log-in. On for relying
    # parties that want a new one from every refresh (kubelogin; see docs/oidc.md).
    refresh_id_token = models.BooleanField(default=False)

    class Meta(dot.AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Exact match only: no added query string, no other port, no trailing slash."""
        return uri in self.redirect_uris.split()

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        return uri in self.post_logout_redirect_uris.split()

    @property
    def jwk_key(self) -> jwk.JWK:
        from admit.sso.oidc import keys

        return keys.signing_key(self.algorithm)

    @property
    def is_public(self) -> bool:
        return self.client_type == self.CLIENT_PUBLIC


class DigestField(models.CharField):
    """A secret kept as its SHA-256 digest: saving stores the digest, and a lookup
    (``code=...``) digests the value it is given, so callers look rows up by the secret.

    A value read back from the database is the digest; such a row is never saved again
    (a used grant is marked with ``QuerySet.update``)."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return hashlib.sha256(str(value).encode()).hexdigest()


class Grant(dot.AbstractGrant):
    """An authorization code: one use, 60 seconds ([oidc] in admit.toml does not change it)."""

    code = DigestField(max_length=64, unique=True)  # type: ignore[assignment]
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    # Set when the code is exchanged; a second exchange finds it and revokes the first's tokens,
    # which all carry ``family`` (RefreshToken.token_family).
    used_at = models.DateTimeField(null=True, blank=True)
    family = models.UUIDField()

    class Meta(dot.AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"

    def __str__(self) -> str:  # never the secret itself
        return f"Grant #{self.pk}"


class _SessionBound(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and self.session_id is None:
            self.session_id = issuing.current().session_id
        super().save(*args, **kwargs)


class AccessToken(_SessionBound, dot.AbstractAccessToken):
    class Meta(dot.AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"

    def __str__(self) -> str:  # never the secret itself
        return f"AccessToken #{self.pk}"

    def is_valid(self, scopes: Any = None) -> bool:
        """Unexpired, with the scopes, and its admit session still live."""
        return super().is_valid(scopes) and self.session.expires_at > issuing.now()


class RefreshToken(_SessionBound, dot.AbstractRefreshToken):
    class Meta(dot.AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"

    def __str__(self) -> str:  # never the secret itself
        return f"RefreshToken #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        family = issuing.current().family
        if self._state.adding and family is not None:
            # The first refresh token of a code exchange: its family is the grant's, so a
            # second use of the code revokes the whole chain (Grant.family).
            self.token_family = family
        super().save(*args, **kwargs)


class IDToken(_SessionBound, dot.AbstractIDToken):
    class Meta(dot.AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"

    def __str__(self) -> str:  # never the secret itself
        return f"IDToken #{self.pk}"


class Consent(models.Model):
    """A person's yes to a client, for these scopes, until they revoke it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scope = models.TextField()  # space-separated, as OAuth writes scopes
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="one_consent_per_client")
        ]

    def __str__(self) -> str:
        return f"consent of {self.user_id} to {self.client_id}"

    def covers(self, scopes: list[str]) -> bool:
        return set(scopes) <= set(self.scope.split())
