"""ID tokens as a relying party checks them -- with jwcrypto, against the published JWKS --
and the signing keys behind them: rotation with a grace period, a key given in
ADMIT_OIDC_KEY, and a key file only its owner can read."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk, jws, jwt
from oauth2_provider.settings import oauth2_settings

from admit import cli
from admit.core.errors import InputError
from admit.sso.oidc import keys
from tests.conftest import GOOD_PASSWORD, ApiClient
from tests.oidc.support import Pkce, log_in, make_client, refresh, session_of, tokens_for
from tests.sso.test_totp import code_for, enable

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_folder(settings, tmp_path):
    """Each test here has signing keys of its own, which it may rotate."""
    settings.ADMIT_DATA_DIR = tmp_path
    return tmp_path


def jwks(browser) -> jwk.JWKSet:
    response = browser.get("/oidc/jwks/")
    assert response.status_code == 200
    return jwk.JWKSet.from_json(response.content)


def kids(browser) -> set[str]:
    return {key["kid"] for key in json.loads(browser.get("/oidc/jwks/").content)["keys"]}


def header_of(id_token: str) -> dict:
    token = jws.JWS()
    token.deserialize(id_token)
    return token.jose_header


def verified(browser, new, id_token: str, nonce: str | None) -> dict:
    """The claims of an ID token whose signature, issuer, audience, expiry and nonce check
    out against the provider's JWKS, as a relying party verifies them."""
    expected = {"iss": str(oauth2_settings.OIDC_ISS_ENDPOINT), "aud": new.client.client_id}
    expected["exp"] = None  # checked against the time now
    if nonce is not None:
        expected["nonce"] = nonce
    token = jwt.JWT(jwt=id_token, key=jwks(browser), check_claims=expected, expected_type="JWS")
    return json.loads(token.claims)


def test_an_id_token_verifies_and_says_who_and_how(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client(refresh_id_token=True)

    tokens = tokens_for(browser, new, Pkce(), nonce="n-0S6_WzA2Mj")

    claims = verified(browser, new, tokens["id_token"], "n-0S6_WzA2Mj")
    assert claims["sub"] == alice.user_id
    assert claims["auth_time"] == int(session_of(browser).created_at.timestamp())
    assert claims["acr"] == "1" and claims["amr"] == ["pwd"]
    assert header_of(tokens["id_token"])["alg"] == "RS256"
    # A refresh's ID token names the same log-in.
    renewed = refresh(browser, new, tokens["refresh_token"]).json()
    again = verified(browser, new, renewed["id_token"], None)
    assert again["sub"] == alice.user_id and again["auth_time"] == claims["auth_time"]


def test_an_id_token_of_another_client_does_not_verify_as_ours(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    ours, theirs = make_client(), make_client("ERP", skip_consent=True)

    tokens = tokens_for(browser, theirs, Pkce(), nonce="abc")

    with pytest.raises(jwt.JWTInvalidClaimValue):
        verified(browser, ours, tokens["id_token"], "abc")


def test_a_log_in_with_totp_is_acr_2_with_otp(browser, alice, admin_ust, clock):
    api = ApiClient()
    login = {"username": alice.username, "password": GOOD_PASSWORD, "current_app": "CRM"}
    ust = api.post("/zato/sso/user/login", login).json()["ust"]
    key = enable(api, ust, clock)
    log_in(browser, alice.username, GOOD_PASSWORD, totp_code=code_for(key, clock().timestamp()))
    new = make_client()

    tokens = tokens_for(browser, new, Pkce(), nonce="totp")

    claims = verified(browser, new, tokens["id_token"], "totp")
    assert claims["acr"] == "2"
    assert "otp" in claims["amr"] and "pwd" in claims["amr"]
    assert claims["auth_time"] == int(session_of(browser).created_at.timestamp())


def test_an_es256_clients_id_token_verifies_with_the_ec_key(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client(algorithm="ES256")

    tokens = tokens_for(browser, new, Pkce(), nonce="ec")

    header = header_of(tokens["id_token"])
    assert header["alg"] == "ES256"
    published = jwks(browser).get_key(header["kid"])
    assert published is not None and published["kty"] == "EC" and published["crv"] == "P-256"
    assert verified(browser, new, tokens["id_token"], "ec")["sub"] == alice.user_id


def test_the_jwks_publishes_public_keys_only(browser):
    published = json.loads(browser.get("/oidc/jwks/").content)["keys"]

    assert {key["kty"] for key in published} == {"RSA", "EC"}
    for key in published:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), key["kid"]
        assert key["use"] == "sig" and key["alg"] in ("RS256", "ES256")


# Rotation


def test_rotation_signs_with_the_new_key_and_still_publishes_the_old(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client(skip_consent=True)
    before = tokens_for(browser, new, Pkce(), nonce="before")
    old_kid = header_of(before["id_token"])["kid"]

    fresh, dropped = keys.rotate()

    assert dropped == []
    after = tokens_for(browser, new, Pkce(), nonce="after")
    new_kid = header_of(after["id_token"])["kid"]
    assert new_kid != old_kid and new_kid in fresh
    assert {old_kid, new_kid} <= kids(browser)
    # Both verify: a token signed before the rotation stays checkable.
    assert verified(browser, new, before["id_token"], "before")["sub"] == alice.user_id
    assert verified(browser, new, after["id_token"], "after")["sub"] == alice.user_id


def test_a_retired_key_goes_at_the_first_rotation_after_its_grace(browser, monkeypatch):
    first = kids(browser)
    keys.rotate()
    second = kids(browser) - first
    assert first < kids(browser)

    # Within the grace period a rotation keeps it ...
    real_now = keys._now
    monkeypatch.setattr(keys, "_now", lambda: real_now() + keys.RETIRED_KEY_GRACE / 2)
    _fresh, dropped = keys.rotate()
    assert dropped == [] and first <= kids(browser)

    # ... past it, the next rotation drops it, and keeps the keys retired since.
    later = keys.RETIRED_KEY_GRACE + timedelta(seconds=1)
    monkeypatch.setattr(keys, "_now", lambda: real_now() + later)
    fresh, dropped = keys.rotate()
    assert set(dropped) == first
    published = kids(browser)
    assert not first & published
    assert second <= published and set(fresh) <= published


def test_the_key_file_is_readable_by_its_owner_only(browser, key_folder):
    browser.get("/oidc/jwks/")
    path = key_folder / keys.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    keys.rotate()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p.name for p in key_folder.iterdir() if p.name != keys.FILE_NAME]


def rsa_pem() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_a_key_given_in_the_environment_is_used_and_not_rotated(
    browser, alice, key_folder, monkeypatch
):
    pem = rsa_pem()
    monkeypatch.setenv(keys.ENV_VARIABLE, pem)
    expected_kid = jwk.JWK.from_pem(pem.encode()).thumbprint()
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client()

    tokens = tokens_for(browser, new, Pkce(), nonce="env")

    assert header_of(tokens["id_token"])["kid"] == expected_kid
    assert kids(browser) == {expected_kid}
    assert verified(browser, new, tokens["id_token"], "env")["sub"] == alice.user_id
    with pytest.raises(keys.KeyProblem, match=keys.ENV_VARIABLE):
        keys.rotate()
    assert kids(browser) == {expected_kid}
    assert not (key_folder / keys.FILE_NAME).exists()


def test_an_es256_client_needs_an_es256_key(key_folder, monkeypatch, capsys):
    """With an RSA key alone in ADMIT_OIDC_KEY, a new ES256 client is refused (its every
    log-in would fail), and one made before the key changed is named when admit starts."""
    before = make_client(algorithm="ES256").client
    monkeypatch.setenv(keys.ENV_VARIABLE, rsa_pem())

    with pytest.raises(InputError, match="no ES256 signing key: add a P-256 key to ADMIT_OIDC_KEY"):
        make_client(algorithm="ES256")
    cli._check_signing_keys()

    warning = capsys.readouterr().err
    assert f"client {before.client_id} signs with ES256, and there is no ES256 key" in warning
    assert make_client(algorithm="RS256").client.algorithm == "RS256"


def test_admit_refuses_to_start_with_keys_it_cannot_read(key_folder, monkeypatch, capsys):
    monkeypatch.setenv(
        keys.ENV_VARIABLE, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
    )

    with pytest.raises(SystemExit) as exited:
        cli._check_signing_keys()

    assert exited.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("admit: cannot serve: the OpenID Connect signing keys: ADMIT_OIDC_KEY")


def test_the_keys_are_made_when_admit_starts(key_folder):
    assert not (key_folder / keys.FILE_NAME).exists()

    cli._check_signing_keys()

    made = key_folder / keys.FILE_NAME
    assert made.exists() and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert {key.alg for key in keys.all_keys()} == {"RS256", "ES256"}
