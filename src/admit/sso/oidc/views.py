"""The OpenID Connect endpoints: django-oauth-toolkit's views, with admit's log-in, consent,
sessions, audit log and rate limit around them.

- ``/oidc/authorize/``: the person's side. Without a live admit session it sends them to
  ``/login/`` (the same page, TOTP prompt and throttling as always) and back here; then it asks
  for consent unless the client skips it or the person already said yes to these scopes.
- ``/oidc/token/``, ``/oidc/revoke/``, ``/oidc/introspect/``, ``/oidc/userinfo/``,
  ``/oidc/jwks/``, ``/.well-known/openid-configuration``: the machine's side, answered as
  the RFCs say (JSON errors ``{"error": ..., "error_description": ...}``).
- ``/oidc/logout/``: RP-initiated logout ends the admit session, and with it every token
  issued under it, for every app.

The OAuth work itself -- parsing, PKCE, client authentication, codes, tokens, signatures -- is
the library's (through ``OAuthLibMixin``'s public methods); these views decide who may go on.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from jwcrypto import jws, jwt
from jwcrypto.common import JWException
from oauth2_provider.exceptions import (
    ClientIdMissmatch,
    InvalidIDTokenError,
    InvalidOIDCClientError,
    InvalidOIDCRedirectURIError,
    OAuthToolkitError,
)
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import (
    ConnectDiscoveryInfoView,
    IntrospectTokenView,
    RevokeTokenView,
    RPInitiatedLogoutView,
    UserInfoView,
)
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import add_params_to_uri

from admit.core import unit_of_work
from admit.core.errors import AdmitError
from admit.core.names import control_character
from admit.core.ratelimit import NOT_READ, Counter
from admit.http.headers import allow_form_targets
from admit.http.requests import caller_of
from admit.sso import flows
from admit.sso.models import Session
from admit.sso.oidc import consents, credentials, issuing, keys, queries
from admit.sso.oidc.models import AccessToken, Client, IDToken, RefreshToken
from admit.sso.oidc.record import record
from admit.sso.oidc.validator import ACR_VALUES, CodeTakenMeanwhile, Validator

UST = "admit_ust"  # where /login/ keeps the session (admit.sso.views.UST)


def issuer() -> str:
    """The issuer, ``ADMIT_BASE_URL`` when admit started: what every ID token says in ``iss``."""
    return str(oauth2_settings.OIDC_ISS_ENDPOINT)


def browser_session(request: HttpRequest) -> Session | None:
    """The live admit session this browser is logged in with, if any."""
    ust = request.session.get(UST, "")
    if not isinstance(ust, str) or not ust:
        return None
    try:
        return flows.live_session(ust)
    except AdmitError:
        return None


def _login_url(client: Client, next_path: str) -> str:
    return "/login/?" + urlencode({"app": client.app, "next": next_path})


def _without_prompt_login(request: HttpRequest) -> str:
    query = request.GET.copy()
    prompts = [p for p in query.get("prompt", "").split() if p != "login"]
    if prompts:
        query["prompt"] = " ".join(prompts)
    else:
        query.pop("prompt", None)
    return f"{request.path}?{query.urlencode()}"


def _basic_client_id(request: HttpRequest) -> str:
    """The client id of an HTTP Basic header, as sent (empty without one, or if undecodable)."""
    basic = credentials.from_basic(request.META.get("HTTP_AUTHORIZATION", ""))
    return basic.client_id if basic else ""


def _client_id(request: HttpRequest) -> str:
    """The client a token request names (HTTP Basic or the form), for the rate limit and the
    audit row; the library authenticates it."""
    if request.META.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
        return _basic_client_id(request)[:255]
    return request.POST.get("client_id", "")[:255]


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


MALFORMED = "a parameter holds a control character"


class RefusesControlCharacters(View):
    """Refuses a request whose parameters, or the client id in its HTTP Basic header, hold a
    control character, before django-oauth-toolkit sees it. No client id, code, token, URI,
    state or nonce has one; and PostgreSQL cannot even look up or store a text with a NUL in
    it, so the library's query would fail with a 500."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        method = request.method.lower() if request.method else ""
        if method not in self.http_method_names or not hasattr(self, method):
            # Before anything else: the library's introspection and revocation views would
            # authenticate the client first, and answer a wrong method with 401.
            return self.http_method_not_allowed(request, *args, **kwargs)
        parameters = [*request.GET.lists(), *request.POST.lists()]
        values = [value for _name, values in parameters for value in values]
        if any(control_character(value) for value in [*values, _basic_client_id(request)]):
            return self.malformed(request)
        return super().dispatch(request, *args, **kwargs)

    def malformed(self, request: HttpRequest) -> HttpResponse:
        return _oauth_error(400, "invalid_request", MALFORMED)


def _malformed_page(request: HttpRequest) -> HttpResponse:
    """The person's side: said on a page, and sent nowhere."""
    context = {"error": "invalid_request", "description": MALFORMED}
    return render(request, "oidc/error.html", context, status=400)


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(RefusesControlCharacters, OAuthLibMixin, View):
    """The authorization endpoint (code flow only). GET asks; POST is the consent form's answer,
    to the same address (the request travels in the query string both times)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request, decision=None)

    def malformed(self, request: HttpRequest) -> HttpResponse:
        return _malformed_page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request, decision=request.POST.get("decision", ""))

    def handle(self, request: HttpRequest, decision: str | None) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.refusal(request, error, None)
        client = Client.objects.get(client_id=credentials["client_id"])
        if credentials.get("code_challenge") and credentials.get("code_challenge_method") != "S256":
            return self.deny(request, scopes, credentials, client, "invalid_request")
        prompt = set(request.GET.get("prompt", "").split())
        caller = caller_of(request)
        if "cancel" in request.GET:  # "Return to the app" on the log-in or refusal page
            return self.deny(request, scopes, credentials, client)
        if client.app not in settings.ADMIT_POLICY.apps.login_allowed:
            return self.refused_page(request, scopes, credentials, client, "app")
        session = browser_session(request)
        if session is None or "login" in prompt:
            if "none" in prompt:
                return self.deny(request, scopes, credentials, client, "login_required")
            return redirect(_login_url(client, _without_prompt_login(request)))
        user = session.user
        if not user.is_active:
            return self.refused_page(request, scopes, credentials, client, "account", user.user_id)
        if not (client.skip_authorization or consents.covers(user, client, scopes)):
            if "none" in prompt:
                return self.deny(
                    request, scopes, credentials, client, "consent_required", user.user_id
                )
            if decision is None:
                return self.consent_page(
                    request, client, scopes, credentials.get("redirect_uri") or ""
                )
            if decision != "allow":
                record("oidc.consent", caller, client, user.user_id, refused="access_denied")
                return self.deny(request, scopes, credentials, client, user_id=user.user_id)
            consents.grant(user, client, scopes)
            record("oidc.consent", caller, client, user.user_id, scope=" ".join(scopes))
        request.user = user  # whom django-oauth-toolkit issues the code for
        credentials["admit_session_id"] = session.pk
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request, " ".join(scopes), credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.refusal(request, error, client)
        record("oidc.authorize", caller, client, user.user_id, scope=" ".join(scopes))
        return OAuth2ResponseRedirect(uri, client.get_allowed_schemes())

    def refusal(
        self, request: HttpRequest, error: OAuthToolkitError, client: Client | None
    ) -> HttpResponse:
        """Back to the client when its redirect URI is known to be its own; else a page."""
        redirect, response = self.error_response(error)
        refused = response["error"].error
        named = "" if client else request.GET.get("client_id", "")[:100]
        record("oidc.authorize", caller_of(request), client, client_id=named, refused=refused)
        if redirect:
            schemes = client.get_allowed_schemes() if client else ["http", "https"]
            return OAuth2ResponseRedirect(response["url"], schemes)
        oauth_error = response["error"]
        return render(
            request,
            "oidc/error.html",
            {"error": oauth_error.error, "description": oauth_error.description},
            status=oauth_error.status_code,
        )

    def denied_url(
        self,
        request: HttpRequest,
        scopes: list[str],
        credentials: dict,
        client: Client,
        error: str = "access_denied",
    ) -> str:
        try:
            self.create_authorization_response(
                request, " ".join(scopes), dict(credentials), allow=False
            )
        except OAuthToolkitError as refused:
            refused.oauthlib_error.error = error
            refused.oauthlib_error.description = None
            _redirect, response = self.error_response(refused)
            url = response["url"]
            return add_params_to_uri(url, [("iss", issuer())])
        raise AssertionError("allow=False always refuses")

    def deny(
        self,
        request: HttpRequest,
        scopes: list[str],
        credentials: dict,
        client: Client,
        error: str = "access_denied",
        user_id: str = "",
    ) -> HttpResponse:
        """Back to the client with ``error``: an audit row says so."""
        record("oidc.authorize", caller_of(request), client, user_id, refused=error)
        return OAuth2ResponseRedirect(
            self.denied_url(request, scopes, credentials, client, error),
            client.get_allowed_schemes(),
        )

    def refused_page(
        self,
        request: HttpRequest,
        scopes: list[str],
        credentials: dict,
        client: Client,
        why: str,
        user_id: str = "",
    ) -> HttpResponse:
        """The person cannot use the app: said in words, with a way back that tells the app
        ``access_denied``. No code is made."""
        record(
            "oidc.authorize", caller_of(request), client, user_id, refused="access_denied", why=why
        )
        context = {
            "app": client.app,
            "why": why,
            "back": self.denied_url(request, scopes, credentials, client),
        }
        return render(request, "oidc/refused.html", context, status=403)

    def consent_page(
        self, request: HttpRequest, client: Client, scopes: list[str], redirect_uri: str
    ) -> HttpResponse:
        """Its form's answer, either way, is a redirect to the client's (validated) redirect
        URI, which the page's form-action must allow."""
        context = {
            "app": client.app,
            "scopes": [consents.SCOPE_WORDS.get(scope, scope) for scope in scopes],
            "action": request.get_full_path(),
        }
        return allow_form_targets(render(request, "oidc/consent.html", context), [redirect_uri])


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(
    sensitive_post_parameters("client_secret", "code", "refresh_token", "code_verifier"),
    name="post",
)
class TokenView(RefusesControlCharacters, OAuthLibMixin, View):
    """The token endpoint: the code exchange and refresh (no other grant). Rate-limited per
    client and address (``[rate_limits] oidc_tokens_per_client``); every answer is an audit
    row."""

    def malformed(self, request: HttpRequest) -> HttpResponse:
        record("oidc.token", caller_of(request), None, refused="invalid_request")
        return super().malformed(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        client_id = _client_id(request)
        refresh = request.POST.get("grant_type", "") == "refresh_token"
        event = "oidc.refresh" if refresh else "oidc.token"
        caller = caller_of(request)
        # Counted per client and address: a stranger who names a client's (public) id in
        # requests of their own spends their own budget, never the client's.
        subject = (
            f"{client_id} from {caller.remote_ip}" if client_id else f"address:{caller.remote_ip}"
        )
        limit = Counter(
            "oidc-token", subject, settings.ADMIT_POLICY.rate_limits.oidc_tokens_per_client
        )
        read = None
        # A refresh naming its client is a relying party's hot path: the client, its count and
        # the presented token in one read, and the count written with the grant's writes. (A
        # check and a later count, not one atomic claim: refreshes sent at the same moment may
        # all pass the check. The limit throttles a client; its secret and tokens cannot be
        # guessed.) Any other token request claims its count first.
        counted_with_writes = refresh and bool(client_id)
        if counted_with_writes:
            presented = issuing.checksum(request.POST.get("refresh_token", ""))
            read = queries.refresh_grant(client_id, presented, limit)
            admitted = limit.admits(read.counted if read else NOT_READ)
        else:
            admitted = limit.claim()
        if not admitted:
            record(event, caller, None, client_id=client_id, refused="rate_limited")
            return _oauth_error(
                429,
                "slow_down",
                "too many token requests for this client; try again later",
                Retry_After=str(limit.seconds_left),
            )
        # What the grant writes and its audit rows land together, or none of it. The code
        # exchange is django-oauth-toolkit's, which reads back rows it has written: one
        # transaction. The refresh grant is admit's own storage (``validator``), which reads
        # outside any transaction and holds its writes to the end: one statement on
        # PostgreSQL, with the count. (The code exchange's count was claimed above, outside its
        # transaction: a lock on the client's count row held to the end would make the
        # client's token requests wait for one another.)
        writes = unit_of_work.run(deferred=True) if refresh else transaction.atomic()
        try:
            with writes, issuing.issuing() as scope:
                scope.read = read
                _url, headers, body, status = self.create_token_response(request)
                error = "" if status == 200 else _error_of(body)
                record(event, caller, None, scope.user_id, client_id=client_id, refused=error)
                for reuse, user_id in scope.events:
                    record(
                        reuse, caller, None, user_id, client_id=client_id, refused="invalid_grant"
                    )
                if counted_with_writes:
                    limit.count()
        except CodeTakenMeanwhile as taken:
            # Two exchanges of one code at once, and the other one marked it used first: this
            # one's writes were rolled back, and what the code issued to the other dies, as on
            # any reuse of a code.
            RefreshToken.revoke_family(taken.family)
            refused = {"client_id": client_id, "refused": "invalid_grant"}
            record(event, caller, None, taken.user_id, **refused)
            record("oidc.code_reuse", caller, None, taken.user_id, **refused)
            return _oauth_error(400, "invalid_grant", "the code was used already")
        except unit_of_work.GuardFailed:
            # Another refresh took the token first, or its session ended, while this one was
            # under way: nothing of this one was written (a count held in the database neither),
            # and its tokens were never valid.
            refused = {"client_id": client_id, "refused": "invalid_grant"}
            record(event, caller, None, scope.user_id, **refused)
            if Validator.taken_meanwhile(scope.family):
                record("oidc.refresh_reuse", caller, None, scope.user_id, **refused)
            if counted_with_writes and limit.in_database:
                limit.count()
            return _oauth_error(
                400, "invalid_grant", "the refresh token was used already, or its session ended"
            )
        response = HttpResponse(body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


def _error_of(body: str) -> str:
    try:
        return str(json.loads(body).get("error", "error"))[:64]
    except (ValueError, AttributeError):
        return "error"


@method_decorator(csrf_exempt, name="dispatch")  # as the library's view
@method_decorator(sensitive_post_parameters("client_secret", "token"), name="dispatch")
class RevokeView(RefusesControlCharacters, RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        owner = _owner_of(request.POST.get("token", ""))  # read before the token goes
        response = super().post(request, *args, **kwargs)
        error = "" if response.status_code == 200 else _error_of(response.content.decode())
        record(
            "oidc.revoke",
            caller_of(request),
            None,
            owner,
            client_id=_client_id(request),
            refused=error,
        )
        return response


def _owner_of(token: str) -> str:
    """The ``user_id`` of the person whose access or refresh token ``token`` is ("" if it is
    none): whom a revocation's audit row names."""
    if not token:
        return ""
    checksum = issuing.checksum(token)
    for model in (AccessToken, RefreshToken):
        owners = model.objects.filter(token_checksum=checksum).values_list("user__user_id")
        found = owners.first()
        if found:
            return found[0]
    return ""


@method_decorator(csrf_exempt, name="dispatch")  # as the library's view
@method_decorator(sensitive_post_parameters("client_secret", "token"), name="dispatch")
class IntrospectView(RefusesControlCharacters, IntrospectTokenView):
    """RFC 7662 for confidential clients (HTTP Basic or the form): ``active`` is false for an
    unknown, expired or revoked token and for one whose admit session has ended. The token is
    read by one written-out statement (``queries``): this is a relying party's hot path."""

    def unauthenticated_response(
        self, request: HttpRequest, oauthlib_request: Any = None
    ) -> HttpResponse:
        """A caller that is not an authenticated client: 401 ``invalid_client`` (RFC 7662
        section 2.1, RFC 6749 section 5.2), where the library answers a bare 403."""
        return _oauth_error(
            401,
            "invalid_client",
            "client authentication failed",
            WWW_Authenticate='Basic realm="admit"',
        )

    @staticmethod
    def get_token_response(token_value: str | None = None) -> JsonResponse:
        if token_value is None:
            return _oauth_error(400, "invalid_request", "token parameter is missing")
        token = queries.live_access_token(issuing.checksum(token_value))
        if token is None:
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                "scope": token.scope,
                "client_id": token.client_id,
                "username": token.username,
                "sub": token.user_id,
                "token_type": "Bearer",
                "exp": int(token.expires.timestamp()),
                "iat": int(token.created.timestamp()),
                "iss": issuer(),
            }
        )


@method_decorator(csrf_exempt, name="dispatch")
class UserInfo(UserInfoView):
    """django-oauth-toolkit's UserInfo endpoint. Its refusal is oauthlib's JSON body with the
    RFC 6750 challenge (``WWW-Authenticate: Bearer error="invalid_token"``) but no content
    type; said to be JSON, it reaches the client as it is, rather than replaced by the
    middleware's generic refusal without the challenge (which openid-client, rightly, does
    not take for a bearer-token error)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code >= 400 and "WWW-Authenticate" in response:
            response["Content-Type"] = "application/json"
            response["Cache-Control"] = "no-store"
        return response


class DiscoveryView(ConnectDiscoveryInfoView):
    """django-oauth-toolkit's discovery document, saying what admit does and only that."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        base = issuer()
        document.update(
            {
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "id_token_signing_alg_values_supported": keys.algorithms(),
                "code_challenge_methods_supported": ["S256"],
                "introspection_endpoint": f"{base}/oidc/introspect/",
                "revocation_endpoint": f"{base}/oidc/revoke/",
                "introspection_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "revocation_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "acr_values_supported": list(ACR_VALUES),
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
            }
        )
        document.pop("client_id_metadata_document_supported", None)
        answer = JsonResponse(document)
        answer["Access-Control-Allow-Origin"] = "*"
        return answer


def jwks(request: HttpRequest) -> JsonResponse:
    """The public keys of ``admit.sso.oidc.keys``: in use, and retired within their grace."""
    response = JsonResponse({"keys": keys.published()})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _names_clients(token: str) -> bool:
    """Whether an (unverified) JWS's payload is a JSON object whose ``aud`` is a client id or a
    list of them: text without control characters."""
    unverified = jws.JWS()
    try:
        unverified.deserialize(token)
        claims = json.loads(unverified.objects["payload"])
    except (JWException, ValueError, KeyError):
        return False
    audiences = _audiences(claims)
    return audiences is not None and all(
        isinstance(name, str) and not control_character(name) for name in audiences
    )


def _audiences(claims: object) -> list | None:
    """A JWT's ``aud`` as a list (it may be a single string); None if it is neither."""
    audience = claims.get("aud") if isinstance(claims, dict) else None
    if isinstance(audience, str):
        return [audience]
    return audience if isinstance(audience, list) else None


def _kept_id_token(hint: str, session: Session | None) -> IDToken | None:
    """An ``id_token_hint`` that admit signed but django-oauth-toolkit no longer finds: an
    unsaved row naming its client, and its person only if it belongs to the browser's current
    log-in (``session``); None if admit did not sign it.

    A relying party whose client takes no new ID token from a refresh (``Client.refresh_id_token``)
    keeps the one of its log-in, whose row is swept once it has expired and no access token
    refers to it (django-oauth-toolkit's ``clear_expired``); and the library checks a hint
    with the client's key in use only, not one rotated out since. Here the signature is checked
    against the published keys (the JWKS), the expiry left aside as for any hint; ``iss`` must
    be admit's and ``aud`` name a client. A hint of another log-in than the current one names
    no person, so the person is asked before being logged out (RP-Initiated Logout 1.0,
    section 2)."""
    try:
        verified = jwt.JWT(
            jwt=hint, key=keys.verification_set(), check_claims={}, expected_type="JWS"
        )
        claims = json.loads(verified.claims)
    except (JWException, ValueError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != issuer():
        return None
    audiences = _audiences(claims)
    client = Client.objects.filter(client_id__in=audiences).first() if audiences else None
    if client is None:
        return None
    person = None
    if (
        session is not None
        and claims.get("sub") == session.user.user_id
        and claims.get("auth_time") == int(session.created_at.timestamp())
    ):
        person = session.user
    return IDToken(application=client, user=person)


class LogoutView(RefusesControlCharacters, RPInitiatedLogoutView):
    """RP-initiated logout: with an ``id_token_hint`` of the person logged in here, at once;
    otherwise after they confirm. Ends the admit session, so every app's tokens issued under
    it die with it."""

    template_name = "oidc/logout.html"
    admit_session: Session | None = None  # the browser's live admit session (``dispatch``)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        """The confirmation form leads on to the post-logout URI it carries, which
        django-oauth-toolkit validated before filling in the form (``oidc_data``)."""
        response = super().render_to_response(context, **kwargs)
        target = getattr(self, "oidc_data", {}).get("post_logout_redirect_uri") or ""
        return allow_form_targets(response, [target])

    def malformed(self, request: HttpRequest) -> HttpResponse:
        return _malformed_page(request)

    def validate_logout_request_user(self, id_token_hint: str | None, client_id: str | None) -> Any:
        """django-oauth-toolkit reads the hint's ``aud`` before it checks the signature (to find
        the client's key) and fails with a 500 on a hint that is not a JWS of a JSON object
        naming clients in text; such a hint is refused as invalid here first. A hint the library
        no longer finds may still be one admit signed (``_kept_id_token``)."""
        if id_token_hint and not _names_clients(id_token_hint):
            raise InvalidIDTokenError()
        try:
            return super().validate_logout_request_user(id_token_hint, client_id)
        except InvalidIDTokenError:
            kept = _kept_id_token(id_token_hint or "", self.admit_session)
            if kept is None:
                raise
        if client_id and kept.application.client_id != client_id:
            raise ClientIdMissmatch()
        return kept

    def validate_post_logout_redirect_uri(
        self, application: Any, post_logout_redirect_uri: str | None
    ) -> None:
        """The library parses the address before it compares it with the registered ones, and
        lets the parser's ValueError out (a 500) on an address such as ``http://[::1``."""
        try:
            super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)
        except ValueError:
            raise InvalidOIDCRedirectURIError("not a valid address") from None

    def get_request_application(self, id_token: Any, client_id: str | None) -> Any:
        """An unknown ``client_id`` is refused (the library would let DoesNotExist out)."""
        if client_id and not Client.objects.filter(client_id=client_id).exists():
            raise InvalidOIDCClientError()
        return super().get_request_application(id_token, client_id)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        session = self.admit_session = browser_session(request)
        if session is not None:
            request.user = session.user  # whom django-oauth-toolkit compares the hint with
        return super().dispatch(request, *args, **kwargs)

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: Any = None,
        state: Any = None,
        token_user: Any = None,
    ) -> HttpResponse:
        request = self.request
        ust = request.session.get(UST, "")
        caller = caller_of(request)
        if isinstance(ust, str) and ust:
            flows.logout(ust, request.session.get("admit_app", ""), caller)
        user_id = getattr(token_user or request.user, "user_id", "")
        record("oidc.logout", caller, application, user_id)
        auth.logout(request)  # also empties the web session
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)
