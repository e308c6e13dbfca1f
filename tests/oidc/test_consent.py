"""Consent, and what ``prompt`` asks of the authorize endpoint: the person says yes in words
they understand, once per client and set of scopes; a client that may skip consent does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from admit.sso.oidc.models import Consent
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    NOTHING,
    Pkce,
    authorize_query,
    callback_params,
    get_code,
    issued,
    log_in,
    make_client,
)

pytestmark = pytest.mark.django_db

# What the consent page says for each scope (admit.sso.oidc.views.SCOPE_WORDS), as a person
# reads it.
OPENID_WORDS = "know who you are"
PROFILE_WORDS = "see your username and your name"
EMAIL_WORDS = "see your e-mail address"


@pytest.fixture
def signed_in(browser, alice):
    log_in(browser, alice.username, GOOD_PASSWORD)
    return browser


def ask(browser, client_id: str, **extra: str):
    query = authorize_query(client_id, Pkce(), **extra)
    return query, browser.get("/oidc/authorize/", query)


def answer(browser, page, decision: str):
    """The consent form's POST, to the address the page was shown at."""
    action = page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"]
    return browser.post(action, {"decision": decision})


def test_the_first_time_the_page_lists_the_scopes_in_words(signed_in):
    new = make_client()

    _query, page = ask(signed_in, new.client.client_id)

    assert page.status_code == 200
    text = page.content.decode()
    assert "Allow CRM to use your account?" in text
    for words in (OPENID_WORDS, PROFILE_WORDS, EMAIL_WORDS):
        assert words in text
    assert issued() == NOTHING


def test_only_the_scopes_asked_for_are_listed(signed_in):
    new = make_client()

    _query, page = ask(signed_in, new.client.client_id, scope="openid")

    text = page.content.decode()
    assert OPENID_WORDS in text
    assert PROFILE_WORDS not in text and EMAIL_WORDS not in text


def test_deny_sends_access_denied_and_no_code(signed_in, alice):
    new = make_client()
    query, page = ask(signed_in, new.client.client_id)

    params = callback_params(answer(signed_in, page, "deny"))

    assert params["error"] == "access_denied" and params["state"] == query["state"]
    assert "code" not in params
    assert issued() == NOTHING
    assert not Consent.objects.exists()
    # Asked again, the person sees the page again: a no is not remembered as a yes.
    assert ask(signed_in, new.client.client_id)[1].status_code == 200


def test_allow_is_remembered(signed_in, alice):
    new = make_client()
    _query, page = ask(signed_in, new.client.client_id)
    assert "code" in callback_params(answer(signed_in, page, "allow"))

    query, again = ask(signed_in, new.client.client_id)

    params = callback_params(again)  # straight back with a code, no page
    assert params["state"] == query["state"] and params["code"]
    consent = Consent.objects.get(user=alice, client=new.client)
    assert set(consent.scope.split()) == {"openid", "profile", "email"}


def test_a_client_that_skips_consent_never_shows_it(signed_in):
    new = make_client(skip_consent=True)

    query, response = ask(signed_in, new.client.client_id)

    params = callback_params(response)
    assert params["state"] == query["state"] and params["code"]
    assert not Consent.objects.exists()


def test_a_broader_request_asks_again(signed_in):
    new = make_client()
    get_code(signed_in, new.client.client_id, Pkce(), scope="openid")

    _query, page = ask(signed_in, new.client.client_id, scope="openid email")

    assert page.status_code == 200
    assert EMAIL_WORDS in page.content.decode()
    # A narrower one than what was allowed does not.
    assert ask(signed_in, new.client.client_id, scope="openid")[1].status_code == 302


def test_consent_to_one_client_is_not_consent_to_another(signed_in):
    first, second = make_client(), make_client("ERP")
    get_code(signed_in, first.client.client_id, Pkce())

    assert ask(signed_in, second.client.client_id)[1].status_code == 200


# prompt


def test_prompt_none_without_a_session_is_login_required(browser):
    new = make_client()

    query, response = ask(browser, new.client.client_id, prompt="none")

    params = callback_params(response)
    assert params["error"] == "login_required" and params["state"] == query["state"]
    assert "code" not in params
    assert issued() == NOTHING


def test_prompt_none_without_consent_is_consent_required(signed_in):
    new = make_client()

    query, response = ask(signed_in, new.client.client_id, prompt="none")

    params = callback_params(response)
    assert params["error"] == "consent_required" and params["state"] == query["state"]
    assert "code" not in params
    assert issued() == NOTHING


def test_prompt_none_with_a_session_and_consent_gives_a_code(signed_in):
    new = make_client()
    get_code(signed_in, new.client.client_id, Pkce())

    _query, response = ask(signed_in, new.client.client_id, prompt="none")

    assert callback_params(response)["code"]


def test_prompt_login_forces_the_log_in_page(signed_in, alice):
    new = make_client(skip_consent=True)

    query, response = ask(signed_in, new.client.client_id, prompt="login")

    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == "/login/"
    next_page = parse_qs(login.query)["next"][0]
    assert next_page.startswith("/oidc/authorize/?")
    # Back from the log-in page, the request is not sent to log in once more.
    assert "prompt" not in parse_qs(urlsplit(next_page).query)
    assert issued() == NOTHING
    logged_in = signed_in.post(
        response["Location"], {"username": alice.username, "password": GOOD_PASSWORD}
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == next_page
    params = callback_params(signed_in.get(next_page))
    assert params["state"] == query["state"] and params["code"]
