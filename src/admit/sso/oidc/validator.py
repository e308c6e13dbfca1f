"""django-oauth-toolkit's validator, told about admit: its sessions, its users and its rules.

Only methods of oauthlib's ``RequestValidator`` interface and django-oauth-toolkit's public
``OAuth2Validator`` methods are overridden; each calls up to the library where it can.

- A code is bound to the admit session of the person who authorized it; the tokens issued for
  it, and for every refresh after, belong to that session (``issuing``).
- A code is one-time: its exchange marks it used (it is not deleted), and a second exchange
  revokes every token the first one issued (``Grant.family``).
- A refresh token rotates on every use; a used one presented again revokes its whole family
  (django-oauth-toolkit's ``REFRESH_TOKEN_REUSE_PROTECTION``). A refresh also needs the
  session live, the person still allowed in and the client's app still in ``[apps]
  login_allowed``; it renews the session, as any use of it does.
- A refresh answer carries a new ID token only if the client asks for one
  (``Client.refresh_id_token``).
- Claims: ``sub`` is the user's ``user_id``; ``auth_time`` is when the session logged in;
  ``acr`` is ``"1"`` (password) or ``"2"`` (password and TOTP code), ``amr`` says the same in
  RFC 8176's words; ``email_verified`` is true only while the person has proven the current
  address by a link e-mailed to it (``User.email_verified``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import refresh_token_expire_timedelta, set_token_value
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from admit.core import clock, unit_of_work
from admit.sso.flows.sessions import lifetime
from admit.sso.models import Session
from admit.sso.oidc import credentials, issuing, keys, queries
from admit.sso.oidc.models import AccessToken, Client, Grant, IDToken, RefreshToken

CODE_LIFETIME = timedelta(seconds=60)

# RFC 8176 authentication method references.
AMR_PASSWORD = ["pwd"]
AMR_TOTP = ["pwd", "otp", "mfa"]
ACR_VALUES = ("1", "2")  # one factor, two factors
# A refresh renews its session only if that moves the session's end by this much or more.
SESSION_RENEWAL_STEP = timedelta(minutes=1)


def may_sign_in(session: Session, client: Client) -> bool:
    """The session is live, its person may still log in, and so may the client's app."""
    user = session.user
    return (
        session.expires_at > clock.now()
        and user.is_active
        and client.app in settings.ADMIT_POLICY.apps.login_allowed
    )


class CodeTakenMeanwhile(Exception):
    """Another exchange of the code marked it used between this one's check and its own
    mark (``Validator.invalidate_authorization_code``)."""

    def __init__(self, family: uuid.UUID | None, user_id: str):
        super().__init__("the code was used by another exchange meanwhile")
        self.family, self.user_id = family, user_id


class Validator(OAuth2Validator):
    oidc_claim_scope = {
        "sub": "openid",
        "name": "profile",
        "preferred_username": "profile",
        "given_name": "profile",
        "family_name": "profile",
        "email": "email",
        "email_verified": "email",
    }

    # Clients

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """oauthlib's client authentication: HTTP Basic (``client_secret_basic``) or, without
        a Basic header, the form (``client_secret_post``); the client is read by one
        written-out statement (``queries.client``), its secret checked against the stored
        digest (``admit.sso.hashers.ClientSecretHasher``, in constant time) and, as oauthlib
        requires, set on the request. Used by the token, introspection and revocation
        endpoints for confidential clients; a public client names itself instead
        (``authenticate_client_id``, the library's)."""
        header = request.headers.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Basic "):
            sent = credentials.from_basic(header)
        elif request.client_id and request.client_secret is not None:
            sent = credentials.Credentials(request.client_id, request.client_secret)
        else:
            sent = None
        if sent is None or not sent.client_id:
            return False
        read = issuing.current().read
        if read is not None and read.client.client_id == sent.client_id:
            found: Client | None = read.client
        else:
            found = queries.client(sent.client_id)
        if found is None or not found.client_secret or found.is_public:
            return False
        if not check_password(sent.secret, found.client_secret):
            return False
        request.client = found
        return True

    # Authorization

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """Public clients must use PKCE; confidential ones may (and are then held to it)."""
        client = getattr(request, "client", None)
        if not isinstance(client, Client):
            client = Client.objects.filter(client_id=client_id).first()
        return client is None or client.is_public

    def get_default_redirect_uri(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """No default: an authorization request names its redirect URI (OpenID Connect Core
        3.1.2.1), else the person sees an error page and is sent nowhere; so does its code
        exchange (RFC 6749 section 4.1.3)."""
        return None

    def validate_silent_login(self, request: Any) -> bool:
        """``prompt=none``: the authorize view, which knows the browser's admit session,
        answers ``login_required`` itself (``views.AuthorizeView``); oauthlib asks here first,
        and django-oauth-toolkit leaves this unimplemented (a 500)."""
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        """``prompt=none``: likewise, the authorize view answers ``consent_required``."""
        return True

    def save_authorization_code(
        self, client_id: str, code: dict, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        method = request.code_challenge_method or ""
        if request.code_challenge and method != "S256":
            raise errors.InvalidRequestError(
                description="code_challenge_method must be S256", request=request
            )
        Grant.objects.create(
            application=request.client,
            user=request.user,
            session_id=request.admit_session_id,
            code=code["code"],
            expires=clock.now() + CODE_LIFETIME,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=method if request.code_challenge else "",
            nonce=request.nonce or "",
            claims=json.dumps(request.claims or {}),
            family=uuid.uuid4(),
        )

    # The code exchange

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        grant = (
            Grant.objects.select_related("user", "session__user")
            .filter(code=code, application=client)
            .first()
        )
        if grant is None:
            return False
        if grant.used_at is not None:
            # A second use: whoever holds the code now, the tokens of the first use die.
            RefreshToken.revoke_family(grant.family)
            issuing.note("oidc.code_reuse", grant.user.user_id)
            return False
        if grant.is_expired() or not may_sign_in(grant.session, client):
            return False
        request.scopes = grant.scope.split()
        request.user = grant.user
        request.admit_session = grant.session
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        issuing.bind(grant.session_id, grant.user.user_id, grant.family)
        return True

    def confirm_redirect_uri(
        self, client_id: str, code: str, redirect_uri: str, client: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """The exchange names the authorization's redirect URI, exactly. Another one is
        ``invalid_grant`` (RFC 6749 section 5.2), where oauthlib would answer
        ``invalid_request``."""
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs):
            raise errors.InvalidGrantError(
                description="redirect_uri is not the one of the authorization request",
                request=args[0] if args else kwargs.get("request"),
            )
        return True

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Marks the code used. If another exchange marked it first (two at once, each of
        which found it unused), this one is a reuse: ``CodeTakenMeanwhile``, on which the token
        endpoint rolls back what this exchange wrote and revokes what the other issued."""
        grants = Grant.objects.filter(code=code, application=request.client)
        if not grants.filter(used_at__isnull=True).update(used_at=clock.now()):
            family, user_id = grants.values_list("family", "user__user_id").first() or (None, "")
            raise CodeTakenMeanwhile(family, user_id)

    # Refresh
    #
    # The refresh grant is a relying party's hot path, so its storage is admit's own rather
    # than django-oauth-toolkit's (which reads the presented token three times and the client
    # twice, and locks rows it then deletes through Django's collector): one written-out read
    # of the client and of the token with its session and person, made by the token endpoint
    # before oauthlib starts (``queries.refresh_grant``, found here in ``issuing.current()``);
    # then its writes -- the session's renewal, the conditional update that takes the old
    # token, the deletion of its access token, the new ID token, access token and refresh
    # token -- are held to the end of the token endpoint's unit of work (``views.TokenView``),
    # which sends them with the rate count and the audit row as one statement on PostgreSQL.
    # If another refresh took the token first, or the session ended meanwhile, nothing of it is
    # written (``unit_of_work.GuardFailed``). oauthlib still validates the request, makes the
    # tokens and the answer.

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        checksum = issuing.checksum(refresh_token)
        read = issuing.current().read
        if read is not None and read.checksum == checksum:
            found = read.presented
        else:
            found = queries.presented_refresh_token(checksum)
        if found is None:
            return False
        presented = found.token
        if presented.revoked is not None:
            # Used already, or revoked by its owner: whoever presents it now, the whole
            # family dies (there is no grace period: REFRESH_TOKEN_GRACE_PERIOD_SECONDS = 0).
            RefreshToken.revoke_family(presented.token_family)
            issuing.note("oidc.refresh_reuse", found.session.user.user_id)
            return False
        if found.access_expires is None or presented.application_id != client.pk:
            return False
        # django-oauth-toolkit's rule: a refresh token lives REFRESH_TOKEN_EXPIRE_SECONDS past
        # the expiry of the access token issued with it.
        lifetime_after = refresh_token_expire_timedelta()
        if lifetime_after and found.access_expires + lifetime_after <= clock.now():
            return False
        session = found.session
        if not may_sign_in(session, client):
            return False
        request.user = session.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = presented
        request.original_scopes = found.scope.split()
        request.admit_session = session
        issuing.bind(session.pk, session.user.user_id, presented.token_family)
        return True

    @staticmethod
    def taken_meanwhile(family: uuid.UUID | None) -> bool:
        """A refresh whose writes found its token taken (``unit_of_work.GuardFailed``). Either
        another refresh with the same token got there first -- a second use, whoever made it,
        so the family dies as on any reuse (True) -- or the session ended, and its tokens with
        it (False)."""
        if family is None or not RefreshToken.objects.filter(token_family=family).exists():
            return False
        RefreshToken.revoke_family(family)
        return True

    def refresh_id_token(self, request: Any) -> bool:
        """oauthlib's hook: whether this refresh answer carries a new ID token. The client says
        (``Client.refresh_id_token``); without one the relying party keeps the ID token of the
        log-in, which still names the person and the log-in (OpenID Connect Core 12.2)."""
        return request.client.refresh_id_token

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        return request.original_scopes

    def save_bearer_token(self, token: dict, request: Any, *args: Any, **kwargs: Any) -> None:
        if request.grant_type != "refresh_token":
            super().save_bearer_token(token, request, *args, **kwargs)
            return
        # The token endpoint's unit of work: these writes land together, or none. A unique
        # index or a reference that fails as they land means the same as a token already
        # taken: another refresh, or the session's end, came first.
        unit_of_work.on_conflict(lambda error: unit_of_work.GuardFailed())
        presented: RefreshToken = request.refresh_token_instance
        session: Session = request.admit_session
        now = clock.now()
        # Using the session from an app renews it, as verifying a ust does, at most once a
        # minute: that spares the session's row (and its five indexes) a new version on every
        # refresh, and moves its end by a minute at most. If the session ended since it was
        # read, the new tokens' reference to it fails: the refresh is refused, nothing written.
        renewed = now + lifetime(session.app)
        if renewed - session.expires_at >= SESSION_RENEWAL_STEP:
            unit_of_work.update_later(session, expires_at=renewed)
        queries.take_refresh_token(presented, now)
        access_token, refresh_token = self._new_pair(token, request, presented, now)
        # No ID token without the openid scope (a plain OAuth client's refresh).
        queries.issue_pair(access_token, refresh_token, getattr(request, "id_token_row", None))

    @staticmethod
    def _new_pair(
        token: dict, request: Any, presented: RefreshToken, now: datetime
    ) -> tuple[AccessToken, RefreshToken]:
        """The tokens oauthlib made, as rows: they carry the presented token's family, session
        and resource."""
        access_token = AccessToken(
            user=request.user,
            session_id=presented.session_id,
            scope=token["scope"],
            expires=now + timedelta(seconds=token["expires_in"]),
            application=request.client,
            source_refresh_token=presented,
            resource=presented.resource,
        )
        refresh_token = RefreshToken(
            user=request.user,
            session_id=presented.session_id,
            application=request.client,
            token_family=presented.token_family,
            resource=presented.resource,
        )
        set_token_value(access_token, token["access_token"])
        set_token_value(refresh_token, token["refresh_token"])
        return access_token, refresh_token

    # Claims

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        user = request.user
        full_name = " ".join(part for part in (user.first_name, user.last_name) if part)
        return {
            "sub": user.user_id,
            "name": user.display_name or full_name,
            "preferred_username": user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "email": user.email,
            # Proven by a link e-mailed to this very address, not merely a confirmed sign-up:
            # relying parties match accounts by address (``User.email_verified``).
            "email_verified": user.email_verified,
        }

    def get_discovery_claims(self, request: Any) -> list[str]:
        return [
            *self.oidc_claim_scope,
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
        ]

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        """The claims of the scopes granted; a field the person left empty is left out."""
        claims = super().get_oidc_claims(token, token_handler, request)
        return {name: value for name, value in claims.items() if value != ""}

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict, Any]:
        """The ID token's claims beyond oauthlib's (``aud``, ``iat``, ``nonce``, ``at_hash``):
        the person's claims of the scopes granted, ``iss``, ``exp``, ``jti``, and what the
        admit session says of the log-in -- ``auth_time`` (when it began), ``acr`` and ``amr``
        (whether TOTP was used). django-oauth-toolkit's own takes ``auth_time`` from the
        person's ``last_login``, which is not this log-in's."""
        session: Session = request.admit_session
        expires = timezone.now() + timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
        claims = self.get_oidc_claims(token, token_handler, request)
        claims.update(
            iss=self.get_oidc_issuer_endpoint(request),
            exp=int(expires.timestamp()),
            auth_time=int(session.created_at.timestamp()),
            jti=str(uuid.uuid4()),
            acr=ACR_VALUES[1] if session.second_factor else ACR_VALUES[0],
            amr=AMR_TOTP if session.second_factor else AMR_PASSWORD,
        )
        return claims, expires

    def finalize_id_token(
        self, id_token: dict, token: Any, token_handler: Any, request: Any
    ) -> str:
        """Signed with the client's algorithm (RS256 or ES256), the key named by ``kid`` in the
        header whichever it is (django-oauth-toolkit names it for RS256 only); the ID token's
        row belongs to the session (``issuing``)."""
        claims, expires = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        key = keys.signing(request.client.algorithm)
        header = {"typ": "JWT", "alg": key.alg, "kid": key.kid}
        signed = jwt.JWT(header=json.dumps(header), claims=json.dumps(id_token, default=str))
        signed.make_signed_token(key.jwk)
        # Written at once for the code exchange (django-oauth-toolkit reads it back to link its
        # access token), held with the refresh grant's writes (``save_bearer_token``).
        request.id_token_row = unit_of_work.insert_later(
            IDToken(
                user=request.user,
                session=request.admit_session,
                scope=request.scope or " ".join(request.scopes),
                expires=expires,
                jti=id_token["jti"],
                application=request.client,
            )
        )
        return signed.serialize()
