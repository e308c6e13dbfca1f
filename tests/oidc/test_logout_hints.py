"""RP-initiated logout with the ID token a relying party actually holds.

A client that takes no new ID token from a refresh (the default, ``Client.refresh_id_token``)
keeps the one of its log-in for as long as it refreshes, and sends it as ``id_token_hint`` when
the person logs out there. Its row is swept once it has expired and no access token refers to
it; the hint must still log the person out at once. A hint of another log-in asks first; one
that admit did not issue is refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import clear_expired

from admit.sso.models import Session
from admit.sso.oidc import keys
from admit.sso.oidc.models import IDToken
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import LOGOUT_URI, Pkce, log_in, make_client, refresh, tokens_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_folder(settings, tmp_path):
    """Keys of this module's own, which a test may rotate."""
    settings.ADMIT_DATA_DIR = tmp_path
    return tmp_path


def logout(browser: Browser, hint: str, **extra: str):
    query = {"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_URI, "state": "bye"}
    return browser.get("/oidc/logout/", query | extra)


def logged_out_at_once(response, browser: Browser) -> bool:
    return (
        response.status_code == 302
        and response["Location"] == LOGOUT_URI + "?state=bye"
        and "admit_ust" not in browser.session
    )


def swept_after_expiry() -> None:
    """What the worker's sweep does once the log-in's ID token has expired."""
    IDToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    clear_expired()


@pytest.fixture
def kept(browser, alice):
    """The ID token of a log-in, kept through two refreshes that brought none, and swept."""
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client()
    tokens = tokens_for(browser, new, Pkce())
    for _ in range(2):
        answer = refresh(browser, new, tokens["refresh_token"])
        assert answer.status_code == 200 and "id_token" not in answer.json(), answer.content
        tokens["refresh_token"] = answer.json()["refresh_token"]
    swept_after_expiry()
    assert not IDToken.objects.exists()
    return new, tokens["id_token"]


def test_the_log_ins_id_token_logs_out_at_once_after_refreshes_and_the_sweep(browser, alice, kept):
    new, hint = kept

    response = logout(browser, hint, client_id=new.client.client_id)

    assert logged_out_at_once(response, browser), response.content[:300]
    assert not Session.objects.filter(user=alice).exists()


def test_a_kept_hint_of_an_earlier_log_in_asks_before_logging_out(browser, alice, kept, clock):
    _new, hint = kept
    browser.post("/logout/")
    clock.advance(seconds=5)  # the hint names its log-in by the second it began
    log_in(browser, alice.username, GOOD_PASSWORD)  # a new log-in, not the hint's

    response = logout(browser, hint)

    assert response.status_code == 200
    assert b"<h1>Log out?</h1>" in response.content and b'name="allow"' in response.content
    assert "admit_ust" in browser.session
    assert Session.objects.filter(user=alice).count() == 1


def test_a_kept_hint_naming_another_client_than_client_id_is_refused(browser, alice, kept):
    _new, hint = kept
    other = make_client("ERP", skip_consent=True)

    response = logout(browser, hint, client_id=other.client.client_id)

    assert response.status_code == 400
    assert b"This log-out link is not valid" in response.content
    assert "admit_ust" in browser.session


def test_a_hint_signed_by_a_key_rotated_out_since_still_logs_out(browser, alice, key_folder):
    log_in(browser, alice.username, GOOD_PASSWORD)
    hint = tokens_for(browser, make_client(), Pkce())["id_token"]
    keys.rotate()  # the old key stays published, retired
    IDToken.objects.all().delete()  # the library would have checked it with the new key only

    response = logout(browser, hint)

    assert logged_out_at_once(response, browser), response.content[:300]


def signed(claims: dict, key: jwk.JWK) -> str:
    token = jwt.JWT(header={"alg": "RS256", "kid": key.thumbprint()}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def claims_of(id_token: str) -> dict:
    verified = jwt.JWT(jwt=id_token, key=keys.verification_set(), check_claims={})
    return json.loads(verified.claims)


def not_admits_key() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048)


def admits_key() -> jwk.JWK:
    return keys.signing("RS256").jwk


@pytest.mark.parametrize(
    ("change", "key"),
    [
        pytest.param({}, not_admits_key, id="signed by a key that is not admit's"),
        pytest.param({"iss": "https://elsewhere.example"}, admits_key, id="another issuer"),
        pytest.param({"aud": "no-such-client"}, admits_key, id="no such client"),
    ],
)
def test_a_hint_admit_did_not_issue_is_refused_and_logs_nobody_out(
    browser, alice, kept, change, key
):
    _new, hint = kept

    response = logout(browser, signed(claims_of(hint) | change, key()))

    assert response.status_code == 400
    assert b"This log-out link is not valid" in response.content
    assert "admit_ust" in browser.session
    assert Session.objects.filter(user=alice).exists()
