"""What the OpenID Connect tests share: a registered client, PKCE, and a person who logs in
through the pages and authorizes, as a browser does (Django's test client)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from django.test import Client as Browser
from jwcrypto import jwk, jwt

from admit.core.context import Caller
from admit.core.secrets import digest
from admit.sso import flows
from admit.sso.flows import NewUser
from admit.sso.models import Session, User
from admit.sso.oidc import clients
from admit.sso.oidc.models import AccessToken, Grant, IDToken, RefreshToken
from tests.conftest import GOOD_PASSWORD

CALLER = Caller(cid="test", remote_ip="127.0.0.1", user_agent="pytest")
REDIRECT_URI = "http://127.0.0.1:8765/callback"
LOGOUT_URI = "http://127.0.0.1:8765/logged-out"


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_client(app: str = "CRM", **options) -> clients.NewClient:
    """A client of ``app`` (``public``, ``skip_consent``, ``algorithm`` ... as add_client)."""
    options.setdefault("post_logout_redirect_uris", (LOGOUT_URI,))
    return clients.add_client(app, [options.pop("redirect_uri", REDIRECT_URI)], CALLER, **options)


def id_token_claims(browser: Browser, id_token: str) -> dict:
    """The ID token verified against the JWKS, as a relying party checks it."""
    keys = jwk.JWKSet.from_json(browser.get("/oidc/jwks/").content)
    return json.loads(jwt.JWT(jwt=id_token, key=keys).claims)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def authorize_query(client_id: str, pkce: Pkce | None = None, **extra: str) -> dict[str, str]:
    query = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if pkce is not None:
        query.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    query.update(extra)
    return query


def log_in(browser: Browser, username: str, password: str, app: str = "CRM", **fields) -> None:
    """Through the log-in page (``fields``: ``totp_code=...``)."""
    form = {"username": username, "password": password, **fields}
    response = browser.post(f"/login/?app={app}", form)
    assert response.status_code == 302, response.content[:500]


def callback_params(response) -> dict[str, str]:
    """The query of a redirect back to the client."""
    assert response.status_code == 302, response.content[:500]
    location = response["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(browser: Browser, client_id: str, pkce: Pkce | None = None, **extra: str) -> str:
    """Authorize as the browser's logged-in person, consenting if asked."""
    query = authorize_query(client_id, pkce, **extra)
    response = browser.get("/oidc/authorize/", query)
    if response.status_code == 200:  # the consent page
        response = browser.post(
            response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"],
            {"decision": "allow"},
        )
    params = callback_params(response)
    assert params["state"] == query["state"]
    return params["code"]


def exchange(
    browser: Browser, new: clients.NewClient, code: str, pkce: Pkce | None = None, **extra
):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    headers = {}
    if new.secret:
        headers["HTTP_AUTHORIZATION"] = basic(new.client.client_id, new.secret)
    else:
        data["client_id"] = new.client.client_id
    # ``extra``: more form fields, or headers (``HTTP_AUTHORIZATION=...`` replaces the client's).
    headers.update({name: value for name, value in extra.items() if name.startswith("HTTP_")})
    data.update({name: value for name, value in extra.items() if not name.startswith("HTTP_")})
    return browser.post("/oidc/token/", data, **headers)


def refresh(browser: Browser, new: clients.NewClient, refresh_token: str):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    headers = {}
    if new.secret:
        headers["HTTP_AUTHORIZATION"] = basic(new.client.client_id, new.secret)
    else:
        data["client_id"] = new.client.client_id
    return browser.post("/oidc/token/", data, **headers)


def introspect(browser: Browser, new: clients.NewClient, token: str) -> dict:
    response = browser.post(
        "/oidc/introspect/",
        {"token": token},
        HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret),
    )
    assert response.status_code == 200, response.content
    return response.json()


# What the refusal and session tests add: a person, whole token sets, and what a relying party
# learns about a token.


def make_person(admin_ust: str, name: str = "alice", **changes) -> User:
    """An approved, confirmed person (password GOOD_PASSWORD) made by the super-user."""
    new = NewUser(name, f"{name}@example.com", GOOD_PASSWORD, auto_approve=True, **changes)
    return flows.create_user(admin_ust, new, CALLER)


def tokens_for(browser: Browser, new: clients.NewClient, pkce: Pkce | None = None, **extra) -> dict:
    """Authorize and exchange the code: the token response of a successful code flow."""
    code = get_code(browser, new.client.client_id, pkce, **extra)
    response = exchange(browser, new, code, pkce)
    assert response.status_code == 200, response.content
    return response.json()


def userinfo(browser: Browser, access_token: str):
    return browser.get("/oidc/userinfo/", HTTP_AUTHORIZATION="Bearer " + access_token)


def is_live(browser: Browser, new: clients.NewClient, access_token: str) -> bool:
    """Whether a resource server would still take the token: introspection and userinfo agree."""
    active = introspect(browser, new, access_token)["active"]
    answer = userinfo(browser, access_token).status_code
    assert answer == (200 if active else 401), (active, answer)
    return active


def oauth_error(response, status: int = 400) -> str:
    """The ``error`` of a JSON OAuth error answer (RFC 6749 section 5.2)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert "access_token" not in body and "refresh_token" not in body
    return body["error"]


def issued() -> dict[str, int]:
    """How many codes and tokens exist: a refusal leaves these as they were."""
    return {
        "codes": Grant.objects.count(),
        "access": AccessToken.objects.count(),
        "refresh": RefreshToken.objects.count(),
        "id": IDToken.objects.count(),
    }


NOTHING = {"codes": 0, "access": 0, "refresh": 0, "id": 0}


def ust_of(browser: Browser) -> str:
    """The admit session the browser logged in with (kept by /login/ in the web session)."""
    return browser.session["admit_ust"]


def session_of(browser: Browser) -> Session:
    return Session.objects.get(ust_digest=digest(ust_of(browser)))
