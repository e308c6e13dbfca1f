"""What the OpenID Connect tests share: a registered client, PKCE, and a person who logs in
through the pages and authorizes, as a browser does (Django's test client)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from django.test import Client as Browser

from admit.core.context import Caller
from admit.sso.oidc import clients

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


def log_in(browser: Browser, username: str, password: str, app: str = "CRM") -> None:
    response = browser.post(f"/login/?app={app}", {"username": username, "password": password})
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
    data.update(extra)
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
