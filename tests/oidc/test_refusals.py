"""What the provider must refuse, and that a refusal issues nothing: redirect URIs that are not
the registered one, PKCE done wrong, codes used twice or late, refresh tokens replayed,
clients that are not who they say, grants and response types admit does not offer, and people
who may not log in."""

from __future__ import annotations

import base64
import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from admit.core.context import Caller
from admit.sso.flows import confirm_signup, signup
from admit.sso.models import User
from admit.sso.oidc.models import Grant
from admit.sso.rules import SignupRequest
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    NOTHING,
    REDIRECT_URI,
    Pkce,
    authorize_query,
    basic,
    callback_params,
    exchange,
    get_code,
    introspect,
    is_live,
    issued,
    log_in,
    make_client,
    make_person,
    oauth_error,
    refresh,
    tokens_for,
)

pytestmark = pytest.mark.django_db

NOT_THE_REDIRECT_URI = {
    "one character": REDIRECT_URI[:-1] + "c",  # .../callbacc
    "a query string": REDIRECT_URI + "?next=/",
    "a trailing slash": REDIRECT_URI + "/",
}


@pytest.fixture
def signed_in(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    return browser


def error_page(response, status: int = 400) -> str:
    """An error shown to the person, not sent anywhere: no redirect, never a code."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert not response.has_header("Location")
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def refused_at_authorize(response, state: str) -> str:
    """Sent back to the client with an OAuth error and the state, and no code."""
    params = callback_params(response)
    assert "code" not in params
    assert params["state"] == state
    return params["error"]


# Redirect URIs match exactly


@pytest.mark.parametrize("wrong", NOT_THE_REDIRECT_URI.values(), ids=NOT_THE_REDIRECT_URI.keys())
def test_authorize_with_another_redirect_uri_shows_an_error_page(signed_in, wrong):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce(), redirect_uri=wrong)

    page = error_page(signed_in.get("/oidc/authorize/", query))

    assert "This log-in link is not valid" in page
    assert "Mismatching redirect URI" in page
    assert issued() == NOTHING


@pytest.mark.parametrize("wrong", NOT_THE_REDIRECT_URI.values(), ids=NOT_THE_REDIRECT_URI.keys())
def test_exchange_with_another_redirect_uri_is_invalid_grant(signed_in, wrong):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)

    response = exchange(signed_in, new, code, pkce, redirect_uri=wrong)

    assert oauth_error(response) == "invalid_grant"
    assert issued() == {**NOTHING, "codes": 1}


# PKCE


def test_a_missing_verifier_is_refused(signed_in):
    new = make_client(public=True)
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)

    response = exchange(signed_in, new, code, pkce=None)

    assert oauth_error(response) == "invalid_request"
    assert issued() == {**NOTHING, "codes": 1}


def test_a_wrong_verifier_is_invalid_grant(signed_in):
    new = make_client(public=True)
    code = get_code(signed_in, new.client.client_id, Pkce())

    response = exchange(signed_in, new, code, Pkce())  # another verifier

    assert oauth_error(response) == "invalid_grant"
    assert issued() == {**NOTHING, "codes": 1}


def test_the_plain_method_is_refused_at_authorize(signed_in):
    new = make_client(public=True)
    pkce = Pkce()
    query = authorize_query(
        new.client.client_id, code_challenge=pkce.verifier, code_challenge_method="plain"
    )

    response = signed_in.get("/oidc/authorize/", query)

    assert refused_at_authorize(response, query["state"]) == "invalid_request"
    assert issued() == NOTHING


def test_a_public_client_without_pkce_is_refused_at_authorize(signed_in):
    new = make_client(public=True)
    query = authorize_query(new.client.client_id)

    response = signed_in.get("/oidc/authorize/", query)

    assert refused_at_authorize(response, query["state"]) == "invalid_request"
    assert issued() == NOTHING


def test_a_confidential_client_may_leave_pkce_out(signed_in):
    new = make_client()

    tokens = tokens_for(signed_in, new)

    assert is_live(signed_in, new, tokens["access_token"])


def test_a_confidential_client_that_sent_a_challenge_must_send_the_verifier(signed_in):
    new = make_client()
    code = get_code(signed_in, new.client.client_id, Pkce())

    response = exchange(signed_in, new, code, pkce=None)

    assert oauth_error(response) == "invalid_request"
    assert issued() == {**NOTHING, "codes": 1}


# Codes: once, and briefly


def test_a_reused_code_is_refused_and_kills_the_first_exchanges_tokens(signed_in):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)
    first = exchange(signed_in, new, code, pkce).json()
    assert is_live(signed_in, new, first["access_token"])

    second = exchange(signed_in, new, code, pkce)

    assert oauth_error(second) == "invalid_grant"
    assert not is_live(signed_in, new, first["access_token"])
    assert oauth_error(refresh(signed_in, new, first["refresh_token"])) == "invalid_grant"


def test_an_expired_code_is_invalid_grant(signed_in):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)
    # django-oauth-toolkit reads Django's clock, which the ``clock`` fixture does not move.
    grant = Grant.objects.get()
    Grant.objects.filter(pk=grant.pk).update(expires=grant.expires - timedelta(minutes=2))

    response = exchange(signed_in, new, code, pkce)

    assert oauth_error(response) == "invalid_grant"
    assert issued() == {**NOTHING, "codes": 1}


# Refresh tokens rotate; a replayed one ends the family


def test_a_rotated_refresh_token_used_again_kills_the_whole_family(signed_in):
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())
    second = refresh(signed_in, new, first["refresh_token"]).json()
    third = refresh(signed_in, new, second["refresh_token"]).json()
    assert is_live(signed_in, new, third["access_token"])

    replay = refresh(signed_in, new, first["refresh_token"])

    assert oauth_error(replay) == "invalid_grant"
    assert oauth_error(refresh(signed_in, new, third["refresh_token"])) == "invalid_grant"
    assert not is_live(signed_in, new, third["access_token"])


# Clients are who they say


def test_a_wrong_client_secret_in_basic_is_invalid_client(signed_in):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)

    response = exchange(
        signed_in, new, code, pkce, HTTP_AUTHORIZATION=basic(new.client.client_id, "not-it")
    )

    assert oauth_error(response, 401) == "invalid_client"
    assert issued() == {**NOTHING, "codes": 1}
    # The code is still good for the client itself: a guess did not spend it.
    assert exchange(signed_in, new, code, pkce).status_code == 200


def _introspected(browser, token: str, **extra):
    return browser.post("/oidc/introspect/", {"token": token, **extra.pop("form", {})}, **extra)


def test_credentials_in_basic_are_form_decoded_as_rfc_6749_says(signed_in):
    """Section 2.3.1: the id and the secret are form-encoded before they are joined."""
    new = make_client()
    token = tokens_for(signed_in, new, Pkce())["access_token"]

    def encoded(text: str) -> str:
        return "".join(f"%{ord(character):02X}" for character in text)

    header = (
        "Basic "
        + base64.b64encode(
            f"{encoded(new.client.client_id)}:{encoded(new.secret)}".encode()
        ).decode()
    )
    response = _introspected(signed_in, token, HTTP_AUTHORIZATION=header)

    assert response.status_code == 200, response.content
    assert response.json()["active"] is True


def test_a_basic_header_is_the_only_method_of_its_request(signed_in):
    """A wrong secret in Basic is not saved by the right one in the form (one method per
    request, RFC 6749 section 2.3)."""
    new = make_client()
    token = tokens_for(signed_in, new, Pkce())["access_token"]
    form = {"client_id": new.client.client_id, "client_secret": new.secret}

    response = _introspected(
        signed_in, token, form=form, HTTP_AUTHORIZATION=basic(new.client.client_id, "not-it")
    )

    assert oauth_error(response, 401) == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_a_public_client_cannot_authenticate_and_so_cannot_introspect(signed_in):
    public = make_client(public=True)
    confidential = make_client(skip_consent=True)
    token = tokens_for(signed_in, confidential, Pkce())["access_token"]

    for header in (basic(public.client.client_id, ""), basic(public.client.client_id, "x")):
        refused = _introspected(signed_in, token, HTTP_AUTHORIZATION=header)
        assert oauth_error(refused, 401) == "invalid_client"
    form = {"client_id": public.client.client_id, "client_secret": ""}
    assert oauth_error(_introspected(signed_in, token, form=form), 401) == "invalid_client"


def test_one_clients_secret_does_not_authenticate_another(signed_in):
    new, other = make_client(), make_client(skip_consent=True)
    token = tokens_for(signed_in, new, Pkce())["access_token"]

    header = basic(other.client.client_id, new.secret)

    assert (
        oauth_error(_introspected(signed_in, token, HTTP_AUTHORIZATION=header), 401)
        == "invalid_client"
    )


def test_a_wrong_client_secret_in_the_form_is_invalid_client(signed_in):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
        "client_id": new.client.client_id,
        "client_secret": new.secret[:-1] + ("x" if new.secret[-1] != "x" else "y"),
    }

    response = signed_in.post("/oidc/token/", data)

    assert oauth_error(response, 401) == "invalid_client"
    assert issued() == {**NOTHING, "codes": 1}


def test_a_code_cannot_be_exchanged_by_another_client(signed_in):
    mine, other = make_client(), make_client("ERP")
    pkce = Pkce()
    code = get_code(signed_in, mine.client.client_id, pkce)

    response = exchange(signed_in, other, code, pkce)

    assert oauth_error(response) == "invalid_grant"
    assert issued() == {**NOTHING, "codes": 1}


# Only the code flow


@pytest.mark.parametrize(
    "data, error",
    [
        (
            {"grant_type": "password", "username": "alice", "password": GOOD_PASSWORD},
            "unauthorized_client",
        ),
        ({"grant_type": "client_credentials"}, "unauthorized_client"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
    ],
    ids=["password", "client_credentials", "implicit"],
)
def test_other_grants_are_refused(signed_in, alice, data, error):
    new = make_client()

    response = signed_in.post(
        "/oidc/token/", data, HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret)
    )

    assert oauth_error(response) == error
    assert issued() == NOTHING


@pytest.mark.parametrize(
    "response_type", ["token", "id_token", "id_token token", "code token", "code id_token"]
)
def test_other_response_types_are_refused(signed_in, response_type):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce(), response_type=response_type)

    response = signed_in.get("/oidc/authorize/", query)

    assert refused_at_authorize(response, query["state"]) == "unauthorized_client"
    assert "#" not in response["Location"]  # nothing in a fragment either
    assert issued() == NOTHING


# People who may not log in get no code


def _sign_up(name: str, confirm: bool) -> User:
    result = signup(
        SignupRequest(
            username=name,
            password=GOOD_PASSWORD,
            email=f"{name}@example.com",
            current_app="CRM",
            app_list=["CRM"],
        ),
        Caller(),
    )
    if confirm:
        confirm_signup(result.confirm_token, Caller())
    return User.objects.get(username=name)


# Each makes a person who is not let in (the super-user's ust: for those it makes itself).


def unconfirmed(admin_ust) -> User:
    return _sign_up("unconfirmed", confirm=False)


def unapproved(admin_ust) -> User:
    return _sign_up("unapproved", confirm=True)


def locked(admin_ust) -> User:
    return make_person(admin_ust, "locked", is_locked=True)


@pytest.mark.parametrize(
    "make, words",
    [
        (unconfirmed, "confirm"),
        (unapproved, "approv"),
        (locked, "locked"),
    ],
    ids=["unconfirmed", "unapproved", "locked"],
)
def test_a_person_who_may_not_log_in_gets_no_code(browser, admin_ust, make, words):
    person = make(admin_ust)
    assert not person.is_active
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())

    # The authorize endpoint sends the browser to log in ...
    start = browser.get("/oidc/authorize/", query)
    assert start.status_code == 302 and start["Location"].startswith("/login/?")
    # ... where the log-in is refused in words ...
    page = browser.post(start["Location"], {"username": person.username, "password": GOOD_PASSWORD})
    assert page.status_code in (400, 403), page.status_code
    assert words in page.content.decode().lower()
    assert "admit_ust" not in browser.session
    # ... and "Return to the app" tells the app the person was not let in.
    back = browser.get("/oidc/authorize/", {**query, "cancel": "1"})
    assert refused_at_authorize(back, query["state"]) == "access_denied"
    assert issued() == NOTHING


def test_an_app_not_allowed_to_log_in_gets_the_refused_page(signed_in, policy):
    new = make_client("CRM")
    policy(apps={"login_allowed": ("ERP",)})
    query = authorize_query(new.client.client_id, Pkce())

    response = signed_in.get("/oidc/authorize/", query)

    page = error_page(response, 403)
    assert "You cannot use CRM now" in page
    (back,) = re.findall(r'href="([^"]+)"[^>]*>Return to CRM', page)
    back = html.unescape(back)
    assert back.startswith(REDIRECT_URI + "?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert params["error"] == "access_denied" and params["state"] == query["state"]
    assert "code" not in params
    assert issued() == NOTHING


def test_introspecting_a_string_never_issued_says_only_inactive(signed_in):
    """Introspecting a string that was never issued is simply inactive (no error, no details)."""
    new = make_client()

    assert introspect(signed_in, new, "not-a-token") == {"active": False}
