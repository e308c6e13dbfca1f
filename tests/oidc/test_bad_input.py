"""Bad input at the provider's endpoints: the machine endpoints answer in OAuth's JSON, the
authorize endpoint with a page that sends the person nowhere -- and none of them ever fails
with a 500. The token endpoint is rate-limited per client."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    NOTHING,
    REDIRECT_URI,
    Pkce,
    authorize_query,
    basic,
    exchange,
    get_code,
    issued,
    log_in,
    make_client,
    oauth_error,
)

pytestmark = pytest.mark.django_db

TOKEN = "/oidc/token/"


def json_error(response, status: int) -> dict:
    """An OAuth JSON error: the status, ``{"error": ...}``, and nothing cached."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "access_token" not in body
    return body


def error_page(response) -> str:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert not response.has_header("Location")
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


# The token endpoint


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_token_endpoint_takes_post_only(browser, method):
    response = getattr(browser, method)(TOKEN)

    assert json_error(response, 405)["error"] == "invalid_request"
    assert "POST" in response["Allow"]


def test_a_100_kb_body_is_refused_before_it_is_read(browser):
    new = make_client()
    data = {"grant_type": "authorization_code", "code": "x" * 100_000}

    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret))

    assert json_error(response, 413)["error"] == "invalid_request"
    assert issued() == NOTHING


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Bearer something",
        "Basic " + base64.b64encode(b"x" * 3000 + b":secret").decode(),
        "Basic é",
    ],
    ids=["empty", "not-base64", "no-colon", "not-utf8", "empty-id", "bearer", "long", "not-ascii"],
)
def test_a_malformed_basic_header_is_invalid_client(browser, header):
    data = {"grant_type": "authorization_code", "code": "abc", "redirect_uri": REDIRECT_URI}

    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=header)

    assert json_error(response, 401)["error"] == "invalid_client"


def test_a_basic_header_naming_a_client_with_nuls_is_malformed(browser):
    header = "Basic " + "A" * 5000  # base64 of 3750 NUL bytes
    data = {"grant_type": "authorization_code", "code": "abc", "redirect_uri": REDIRECT_URI}

    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=header)

    assert json_error(response, 400)["error"] == "invalid_request"


@pytest.mark.parametrize("client_id", ["a\x00b", "a\x01b", "a\r\nb", "\x7f"], ids=repr)
def test_control_characters_in_a_client_id_are_a_malformed_request(browser, client_id):
    """Refused before any lookup: PostgreSQL cannot even compare a text holding a NUL."""
    data = {"grant_type": "authorization_code", "code": "abc", "client_id": client_id}

    assert json_error(browser.post(TOKEN, data), 400)["error"] == "invalid_request"
    basic_auth = basic(client_id, "secret")
    data = {"grant_type": "refresh_token", "refresh_token": "abc"}
    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth)
    assert json_error(response, 400)["error"] == "invalid_request"
    for path in ("/oidc/introspect/", "/oidc/revoke/"):
        response = browser.post(path, {"token": "abc"}, HTTP_AUTHORIZATION=basic_auth)
        assert json_error(response, 400)["error"] == "invalid_request"


@pytest.mark.parametrize("client_id", ["é", "\u202e", "x" * 300], ids=repr)
def test_strange_client_ids_are_invalid_client(browser, client_id):
    data = {
        "grant_type": "authorization_code",
        "code": "abc",
        "client_id": client_id,
        "client_secret": "secret",
    }

    assert json_error(browser.post(TOKEN, data), 401)["error"] == "invalid_client"
    basic_auth = basic(client_id, "secret")
    data = {"grant_type": "refresh_token", "refresh_token": "abc"}
    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=basic_auth)
    assert json_error(response, 401)["error"] == "invalid_client"


def test_a_missing_grant_type_is_refused(browser):
    new = make_client()

    response = browser.post(
        TOKEN, {"code": "abc"}, HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret)
    )

    assert json_error(response, 400)["error"] == "unsupported_grant_type"


def test_a_json_body_is_not_a_form(browser):
    new = make_client()

    response = browser.post(
        TOKEN,
        {"grant_type": "authorization_code", "code": "abc"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret),
    )

    assert json_error(response, 400)["error"] == "unsupported_grant_type"


def test_unknown_fields_are_ignored(browser, alice):
    """RFC 6749 section 3.2: the server MUST ignore unrecognized request parameters."""
    new = make_client()
    log_in(browser, alice.username, GOOD_PASSWORD)
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)

    response = exchange(browser, new, code, pkce, color="blue", audience="everyone", x="\u2603")

    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


def test_a_missing_redirect_uri_in_the_exchange_is_refused(browser, alice):
    new = make_client()
    log_in(browser, alice.username, GOOD_PASSWORD)
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": pkce.verifier}

    response = browser.post(TOKEN, data, HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret))

    assert oauth_error(response) == "invalid_request"
    assert issued() == {**NOTHING, "codes": 1}


@pytest.mark.parametrize("path", ["/oidc/introspect/", "/oidc/revoke/"])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_wrong_method_is_405_before_any_authentication(browser, path, method):
    response = getattr(browser, method)(path, HTTP_AUTHORIZATION=basic("nobody", "x"))

    assert json_error(response, 405)["error"] == "invalid_request"
    assert "POST" in response["Allow"]


@pytest.mark.parametrize("path", ["/oidc/introspect/", "/oidc/revoke/", "/oidc/userinfo/"])
@pytest.mark.parametrize(
    "header", ["", "Basic !!!", "Bearer \x01", "Bearer " + "x" * 5000, "Basic " + "é"]
)
def test_the_other_machine_endpoints_never_fail(browser, path, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    for response in (
        browser.get(path, **extra),
        browser.post(path, {"token": "a\x00b", "token_type_hint": "\u2603"}, **extra),
    ):
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response["Content-Type"].startswith("application/json"), path
        assert "error" in response.json()


@pytest.mark.parametrize(
    ("path", "secret_fields"),
    [
        (TOKEN, {"client_secret", "code", "refresh_token", "code_verifier"}),
        ("/oidc/introspect/", {"client_secret", "token"}),
        ("/oidc/revoke/", {"client_secret", "token"}),
    ],
)
def test_the_secrets_a_request_carries_are_hidden_from_error_reports(browser, path, secret_fields):
    """Should the request fail, Django's error report (the debug page, the e-mail to the
    admins) shows these fields as stars."""
    new = make_client()
    data = {"client_id": new.client.client_id, "client_secret": new.secret, "token": "t"}

    response = browser.post(path, data)

    assert secret_fields <= set(response.wsgi_request.sensitive_post_parameters)


# The authorize endpoint: a page, never a redirect to somewhere unknown


@pytest.fixture
def signed_in(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    return browser


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "no-such-client"},
        {"client_id": ""},
        {"client_id": "a\x00b"},
        {"client_id": "é"},
        {"redirect_uri": None},
        {"redirect_uri": ""},
        {"redirect_uri": REDIRECT_URI + "\r\nLocation: https://evil.example/"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "javascript:alert(1)"},
        {"state": "a\x00b"},
        {"nonce": "n\x00"},
        {"code_challenge": "c\x00" * 22},
    ],
    ids=[
        "unknown-client",
        "empty-client",
        "control-character-client",
        "non-ascii-client",
        "no-redirect-uri",
        "empty-redirect-uri",
        "control-characters-redirect-uri",
        "foreign-redirect-uri",
        "javascript-redirect-uri",
        "control-character-state",
        "control-character-nonce",
        "control-character-challenge",
    ],
)
def test_a_bad_authorization_request_gets_an_error_page(signed_in, change):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())
    for name, value in change.items():
        if value is None:
            query.pop(name)
        else:
            query[name] = value

    page = error_page(signed_in.get("/oidc/authorize/", query))

    assert "This log-in link is not valid" in page
    assert "evil.example" not in page
    assert issued() == NOTHING


def test_an_empty_authorization_request_gets_an_error_page(browser):
    assert "This log-in link is not valid" in error_page(browser.get("/oidc/authorize/"))


def test_a_repeated_parameter_gets_an_error_page(signed_in):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())
    url = "/oidc/authorize/?" + "&".join(f"{k}={v}" for k, v in query.items())

    page = error_page(signed_in.get(url + "&client_id=another"))

    assert "This log-in link is not valid" in page
    assert issued() == NOTHING


@pytest.mark.parametrize("decision", ["yes", "", "ALLOW"])
def test_a_consent_answer_other_than_allow_is_no(signed_in, decision):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())
    signed_in.get("/oidc/authorize/", query)

    response = signed_in.post(
        "/oidc/authorize/?" + "&".join(f"{k}={v}" for k, v in query.items()),
        {"decision": decision},
    )

    assert response.status_code == 302
    assert "error=access_denied" in response["Location"]
    assert issued() == NOTHING


def test_a_consent_answer_with_a_control_character_gets_an_error_page(signed_in):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())
    signed_in.get("/oidc/authorize/", query)

    response = signed_in.post(
        "/oidc/authorize/?" + "&".join(f"{k}={v}" for k, v in query.items()),
        {"decision": "allow\x00"},
    )

    error_page(response)
    assert issued() == NOTHING


# The rate limit


def test_the_token_endpoint_is_rate_limited_per_client(browser, policy):
    policy(rate_limits={"oidc_tokens_per_client": (2, 60)})
    new, other = make_client(), make_client()
    data = {"grant_type": "authorization_code", "code": "abc", "redirect_uri": REDIRECT_URI}
    auth = basic(new.client.client_id, new.secret)

    answers = [browser.post(TOKEN, data, HTTP_AUTHORIZATION=auth) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    limited = json_error(answers[2], 429)
    assert limited["error"] == "slow_down"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    # Another client is counted apart.
    other_auth = basic(other.client.client_id, other.secret)
    assert browser.post(TOKEN, data, HTTP_AUTHORIZATION=other_auth).status_code == 400
    # And so is the same client from another address: a stranger cannot spend its budget.
    elsewhere = browser.post(TOKEN, data, HTTP_AUTHORIZATION=auth, REMOTE_ADDR="203.0.113.9")
    assert elsewhere.status_code == 400


# RP-initiated logout


@pytest.mark.parametrize(
    "query",
    [
        {"client_id": "a\x00b"},
        {"post_logout_redirect_uri": "https://evil.example/\x00"},
        {"state": "\x00"},
        {"id_token_hint": "not.a.jwt"},
        {"id_token_hint": "e30.e30.e30"},
        {"client_id": "no-such-client", "post_logout_redirect_uri": "https://evil.example/"},
    ],
    ids=["nul-client", "nul-uri", "nul-state", "not-a-jwt", "empty-jwt", "unknown-client"],
)
def test_a_bad_logout_request_sends_nowhere(signed_in, query):
    response = signed_in.get("/oidc/logout/", query)

    assert response.status_code < 500
    assert "evil.example" not in response.get("Location", "")
    assert "admit_ust" in signed_in.session  # still logged in


@pytest.mark.parametrize("uri", ["http://[::1", "https://[not-an-address]/", "http://[::1]:x/"])
def test_a_malformed_post_logout_address_of_a_real_client_sends_nowhere(signed_in, uri):
    """The address is parsed before it is compared with the client's registered ones; a
    bracketed host the parser refuses is an error page, not a 500."""
    client = make_client().client

    response = signed_in.get(
        "/oidc/logout/", {"client_id": client.client_id, "post_logout_redirect_uri": uri}
    )

    error_page(response)
    assert "Location" not in response
    assert "admit_ust" in signed_in.session  # still logged in


@pytest.mark.parametrize(
    "payload",
    [
        '{"aud":"a\\u0000b","sub":"x"}',
        '{"aud":["a\\u0001"]}',
        '{"aud":{"x":1}}',
        '{"aud":7}',
        "[1]",
        "7",
        "not json",
        '"aud"',
    ],
)
def test_an_unsigned_id_token_hint_sends_nowhere(signed_in, payload):
    """The hint is read before its signature is checked, to find the client's key."""
    unsigned = ".".join(
        base64.urlsafe_b64encode(part.encode()).rstrip(b"=").decode()
        for part in ('{"alg":"RS256"}', payload, "sig")
    )

    response = signed_in.get("/oidc/logout/", {"id_token_hint": unsigned})

    assert response.status_code < 500
    assert "admit_ust" in signed_in.session
