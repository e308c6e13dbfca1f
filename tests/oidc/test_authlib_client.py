"""Authlib's OAuth 2 client (``OAuth2Session`` of ``authlib.integrations.requests_client``)
against a real ``admit serve``, as a confidential client authenticating with HTTP Basic
(``client_secret_basic``) and in the form (``client_secret_post``): the code exchange with PKCE,
the ID token checked with Authlib's JOSE and admit's published keys (signature, iss, aud,
nonce), refresh, revocation, and a wrong secret refused.

The person's part (log-in and consent) is a ``requests.Session`` posting admit's own forms with
their CSRF tokens, as a browser would."""

from __future__ import annotations

import re
import secrets
from html import unescape
from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from joserfc.errors import (
    InvalidClaimError,
)  # what Authlib's ID token checks raise (its dependency)

from tests.e2e.test_console import BOSS_PASSWORD
from tests.live.conftest import LiveAdmit, start, stop
from tests.oidc.live import Registered, register_client

REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never opened: the code is read from Location
METHODS = ["client_secret_basic", "client_secret_post"]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Any:
    """One ``admit serve`` for the module, with a super-user ``boss`` who will log in."""
    admit, server = start(tmp_path_factory.mktemp("authlib"))
    made = admit.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield admit
    stop(admit, server)


@pytest.fixture(scope="module")
def discovery(live: LiveAdmit) -> dict[str, Any]:
    answer = requests.get(live.url + "/.well-known/openid-configuration", timeout=30)
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture
def client(live: LiveAdmit) -> Registered:
    return register_client(live, REDIRECT_URI)


def session_for(client: Registered, method: str, secret: str = "") -> OAuth2Session:
    return OAuth2Session(
        client.client_id,
        secret or client.secret,
        scope="openid profile email",
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=method,
        code_challenge_method="S256",
    )


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html[:500]
    return found[1]


def authorize_as_boss(live: LiveAdmit, url: str) -> str:
    """Open the authorization URL as a browser would, log in and consent: the callback URL
    admit redirects to (with ``code`` and ``state``)."""
    browser = requests.Session()
    sent = browser.get(url, allow_redirects=False, timeout=30)
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/login/?")
    login_url = live.url + sent.headers["Location"]
    login = browser.get(login_url, timeout=30)
    logged_in = browser.post(
        login_url,
        {
            "csrfmiddlewaretoken": csrf_token(login.text),
            "username": "boss",
            "password": BOSS_PASSWORD,
        },
        allow_redirects=False,
        timeout=30,
    )
    assert logged_in.status_code == 302, logged_in.text[:500]
    consent = browser.get(live.url + logged_in.headers["Location"], timeout=30)
    assert "Allow CRM to use your account?" in unescape(consent.text)
    answered = browser.post(
        consent.url,
        {"csrfmiddlewaretoken": csrf_token(consent.text), "decision": "allow"},
        allow_redirects=False,
        timeout=30,
    )
    assert answered.status_code == 302, answered.text[:500]
    callback = answered.headers["Location"]
    assert callback.startswith(REDIRECT_URI + "?")
    return callback


def get_tokens(live: LiveAdmit, discovery: dict, oauth: OAuth2Session) -> tuple[dict, str]:
    """The code flow with PKCE and a nonce: the tokens, and the nonce sent."""
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = oauth.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = authorize_as_boss(live, url)
    token = oauth.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    return dict(token), nonce


def id_token_claims(discovery: dict, token: dict, client_id: str, nonce: str) -> Any:
    """The ID token verified with the keys admit publishes: signature, iss, aud, nonce, exp."""
    keys = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": discovery["issuer"]}},
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate()
    return claims


@pytest.mark.parametrize("method", METHODS)
def test_code_exchange_id_token_refresh_and_revocation(live, discovery, client, method):
    oauth = session_for(client, method)
    sent: list[requests.PreparedRequest] = []
    oauth.hooks["response"].append(lambda response, **_: sent.append(response.request))

    token, nonce = get_tokens(live, discovery, oauth)

    # The client authenticated the way it was told to.
    exchange = next(r for r in sent if r.url == discovery["token_endpoint"])
    body = str(exchange.body)
    if method == "client_secret_basic":
        assert exchange.headers["Authorization"].startswith("Basic ")
        assert "client_secret" not in body
    else:
        assert "Authorization" not in exchange.headers
        assert "client_secret=" in body
    assert set(token) >= {"access_token", "refresh_token", "id_token", "expires_in"}

    claims = id_token_claims(discovery, token, client.client_id, nonce)
    assert claims["iss"] == live.url
    assert claims["aud"] in (client.client_id, [client.client_id])
    assert claims["nonce"] == nonce
    userinfo = oauth.get(discovery["userinfo_endpoint"], timeout=30)
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["email"] == "boss@example.com"
    # Another nonce than the one sent is refused by the check.
    with pytest.raises(InvalidClaimError):
        id_token_claims(discovery, token, client.client_id, "another nonce")

    # Refresh: new tokens, the new access token works.
    renewed = dict(oauth.refresh_token(discovery["token_endpoint"]))
    assert renewed["access_token"] != token["access_token"]
    assert oauth.get(discovery["userinfo_endpoint"], timeout=30).status_code == 200

    # Revocation: the access token stops working, the refresh token can no longer refresh.
    revoked = oauth.revoke_token(
        discovery["revocation_endpoint"],
        token=renewed["access_token"],
        token_type_hint="access_token",
    )
    assert revoked.status_code == 200
    assert oauth.get(discovery["userinfo_endpoint"], timeout=30).status_code == 401
    revoked = oauth.revoke_token(
        discovery["revocation_endpoint"],
        token=renewed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    with pytest.raises(OAuthError) as refused:
        oauth.refresh_token(discovery["token_endpoint"], refresh_token=renewed["refresh_token"])
    assert refused.value.error == "invalid_grant"


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_secret_is_refused(live, discovery, client, method):
    wrong = session_for(client, method, secret="not-" + client.secret)
    statuses: list[int] = []
    wrong.hooks["response"].append(lambda response, **_: statuses.append(response.status_code))
    verifier = secrets.token_urlsafe(48)
    url, state = wrong.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )
    callback = authorize_as_boss(live, url)

    with pytest.raises(OAuthError) as refused:
        wrong.fetch_token(
            discovery["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )

    assert refused.value.error == "invalid_client"
    assert statuses[-1] == 401
    # The code was not spent by the refused attempt: the right secret still gets tokens.
    right = session_for(client, method)
    token = right.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["access_token"]
