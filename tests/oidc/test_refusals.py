"""What the provider must refuse, and that a refusal issues nothing: redirect URIs that are not
the registered one, PKCE done wrong, codes used twice or late, refresh tokens replayed,
clients that are not who they say, grants and response types admit does not offer, and people
who may not log in."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from admit.audit.models import AuditEvent
from admit.core.context import Caller
from admit.sso.flows import confirm_signup, signup
from admit.sso.models import User
from admit.sso.oidc.models import Grant
from admit.sso.oidc.validator import Validator
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
    session_of,
    tokens_for,
)
from tests.sso.test_throttle import strangers_fail

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


def test_of_two_exchanges_of_one_code_at_once_the_later_is_a_reuse(signed_in, alice, monkeypatch):
    """Both found the code unused, and the first marked it used while the second was under
    way: the second is refused with invalid_grant, writes nothing, and what the code issued to
    the first dies, as on any reuse; the audit log says so."""
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)
    first = exchange(signed_in, new, code, pkce).json()
    grant = Grant.objects.get(code=code)
    checked = Validator.validate_code

    def read_before_the_first_marked_it(self, *args, **kwargs):
        Grant.objects.filter(pk=grant.pk).update(used_at=None)
        found = checked(self, *args, **kwargs)
        Grant.objects.filter(pk=grant.pk).update(used_at=grant.used_at)
        return found

    monkeypatch.setattr(Validator, "validate_code", read_before_the_first_marked_it)
    before = issued()

    second = exchange(signed_in, new, code, pkce)

    assert oauth_error(second) == "invalid_grant"
    assert not is_live(signed_in, new, first["access_token"])
    assert oauth_error(refresh(signed_in, new, first["refresh_token"])) == "invalid_grant"
    assert issued()["refresh"] == before["refresh"]  # the second wrote no token
    (reuse,) = AuditEvent.objects.filter(event="oidc.code_reuse")
    assert reuse.target_user_id == alice.user_id and reuse.error_codes == "invalid_grant"


@pytest.fixture
def both_clocks(clock, monkeypatch):
    """admit's clock, which dates a code's expiry, and Django's, which django-oauth-toolkit
    compares it with (``Grant.is_expired``), stopped and moved together."""
    monkeypatch.setattr("django.utils.timezone.now", clock)
    return clock


@pytest.mark.parametrize("seconds, works", [(59, True), (61, False)], ids=["59s", "61s"])
def test_a_code_lives_sixty_seconds(both_clocks, signed_in, seconds, works):
    new = make_client()
    pkce = Pkce()
    code = get_code(signed_in, new.client.client_id, pkce)
    both_clocks.advance(seconds=seconds)

    response = exchange(signed_in, new, code, pkce)

    if works:
        assert response.status_code == 200, response.content
        assert is_live(signed_in, new, response.json()["access_token"])
    else:
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
    # ... and the page's "Return to CRM without logging in" tells the app the person was not
    # let in.
    (link,) = re.findall(
        r'<a href="([^"]*)">Return to CRM without logging in</a>', page.content.decode()
    )
    back = browser.get(html.unescape(link))
    assert refused_at_authorize(back, query["state"]) == "access_denied"
    assert issued() == NOTHING


def test_an_app_not_allowed_to_log_in_gets_the_refused_page(signed_in, policy):
    new = make_client("CRM")
    policy(apps={"login_allowed": ("ERP",)})
    query = authorize_query(new.client.client_id, Pkce())

    response = signed_in.get("/oidc/authorize/", query)

    page = error_page(response, 403)
    assert "You cannot use CRM now" in page
    assert refused_page_way_back(page, query["state"]) == "access_denied"
    assert issued() == NOTHING


def refused_page_way_back(page: str, state: str) -> str:
    """The OAuth error that the refused page's "Return to CRM" link takes to the app, with
    the state, and no code."""
    (back,) = re.findall(r'href="([^"]+)"[^>]*>Return to CRM', page)
    back = html.unescape(back)
    assert back.startswith(REDIRECT_URI + "?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert "code" not in params
    assert params["state"] == state
    return params["error"]


# A person who logged in and then was shut out, with the session still going on. Through
# admit's own flows that cannot happen: a super-user's lock and taking away someone's approval
# or confirmation end their sessions (tests/oidc/test_sessions.py). The Django admin saves a
# person's fields as they are, without admit's flows; the authorization endpoint still checks.


def _unapproved_in_the_django_admin(person: User) -> None:
    User.objects.filter(pk=person.pk).update(approval_status=User.Approval.PENDING)


def _unconfirmed_in_the_django_admin(person: User) -> None:
    User.objects.filter(pk=person.pk).update(confirmed_at=None)


@pytest.mark.parametrize(
    "shut_out",
    [_unapproved_in_the_django_admin, _unconfirmed_in_the_django_admin],
    ids=["unapproved", "unconfirmed"],
)
def test_a_live_session_whose_person_was_shut_out_gets_the_refused_page(signed_in, alice, shut_out):
    new = make_client()
    query = authorize_query(new.client.client_id, Pkce())
    address = "/oidc/authorize/?" + urlencode(query)
    consent = signed_in.get(address)
    assert consent.status_code == 200 and b"Allow CRM to use your account?" in consent.content

    shut_out(alice)

    assert not User.objects.get(pk=alice.pk).is_active
    assert session_of(signed_in).user_id == alice.pk  # the session goes on
    # The consent page's "Allow", and the app asking again, both get the page in words.
    for response in (signed_in.post(address, {"decision": "allow"}), signed_in.get(address)):
        page = error_page(response, 403)
        assert "You cannot use CRM now" in page
        assert "Your account cannot be used now" in page
        assert refused_page_way_back(page, query["state"]) == "access_denied"
    assert issued() == NOTHING


def test_strangers_who_lock_the_account_do_not_shut_its_owner_out_of_the_apps(
    signed_in, alice, policy
):
    """Failed guesses from elsewhere lock the account automatically, which turns away log-ins
    from addresses it has not logged in from; the owner's live session goes on serving
    them at every app: a new code, and the refresh of tokens they already hold."""
    policy(login={"max_consecutive_failures": 3})
    new = make_client(skip_consent=True)
    held = tokens_for(signed_in, new, Pkce())

    strangers_fail(3, alice.username)

    assert User.objects.get(pk=alice.pk).is_locked
    refreshed = refresh(signed_in, new, held["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    assert is_live(signed_in, new, refreshed.json()["access_token"])
    assert tokens_for(signed_in, new, Pkce())["access_token"]


def test_introspecting_a_string_never_issued_says_only_inactive(signed_in):
    """Introspecting a string that was never issued is simply inactive (no error, no details)."""
    new = make_client()

    assert introspect(signed_in, new, "not-a-token") == {"active": False}
