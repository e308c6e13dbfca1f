"""Where a browser is handed back to the app, and what the app hears when a token is refused:
two faults openid-client and Chromium found (tests/e2e/test_openid_client.py).

- A page whose form ends, through redirects, at the app's redirect URI must allow that address
  in ``form-action``: browsers apply it to every redirect after a submission, so with
  ``'self'`` alone the person stays on admit's page and the app never gets its code.
- UserInfo refuses a dead token with RFC 6750's challenge, ``WWW-Authenticate: Bearer
  error="invalid_token"``, which a client reads to know its token is the problem."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client as Browser

from tests.conftest import ADMIN_PASSWORD
from tests.oidc.support import (
    REDIRECT_URI,
    Pkce,
    authorize_query,
    basic,
    exchange,
    get_code,
    log_in,
    make_client,
)
from tests.web.test_headers import policy_of

pytestmark = pytest.mark.django_db

APP_ORIGIN = "http://127.0.0.1:8765"  # of support.REDIRECT_URI


def test_the_consent_form_may_lead_back_to_the_app(superuser):
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)

    consent = browser.get("/oidc/authorize/", authorize_query(new.client.client_id, Pkce()))

    assert consent.status_code == 200
    assert b"Allow CRM to use your account?" in consent.content
    assert policy_of(consent)["form-action"] == ["'self'", APP_ORIGIN]


def test_the_log_in_form_on_the_way_to_an_app_may_lead_back_to_it(superuser):
    new = make_client(skip_consent=True)
    authorize = "/oidc/authorize/?" + urlencode(authorize_query(new.client.client_id, Pkce()))
    browser = Browser()

    page = browser.get("/login/", {"app": "CRM", "next": authorize})
    assert policy_of(page)["form-action"] == ["'self'", APP_ORIGIN]

    # And it does: log-in, then authorize, then the app, in one submission's redirects.
    logged_in = browser.post(
        "/login/?app=CRM",
        {"username": superuser.username, "password": ADMIN_PASSWORD, "next": authorize},
    )
    assert logged_in["Location"] == authorize
    assert browser.get(authorize)["Location"].startswith(REDIRECT_URI + "?code=")


@pytest.mark.parametrize(
    "next_page",
    [
        "",
        "/account/",
        "/oidc/authorize/?client_id=nosuchclient&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback",
        "/oidc/authorize/?client_id={client_id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
    ],
    ids=["no-next", "account", "unknown-client", "unregistered-uri"],
)
def test_the_log_in_form_leads_nowhere_else(superuser, next_page):
    new = make_client()
    query = {"app": "CRM", "next": next_page.format(client_id=new.client.client_id)}

    page = Browser().get("/login/", query)

    assert page.status_code == 200
    assert policy_of(page)["form-action"] == ["'self'"]


def test_the_log_out_confirmation_may_lead_to_the_post_logout_address(superuser):
    new = make_client(post_logout_redirect_uris=("http://localhost:8766/bye",))
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)

    # No id_token_hint: admit asks before logging the person out.
    confirm = browser.get(
        "/oidc/logout/",
        {
            "client_id": new.client.client_id,
            "post_logout_redirect_uri": "http://localhost:8766/bye",
        },
    )

    assert confirm.status_code == 200
    assert b"Log out?" in confirm.content
    assert policy_of(confirm)["form-action"] == ["'self'", "http://localhost:8766"]


def test_userinfo_refuses_a_revoked_token_with_the_bearer_challenge(superuser):
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    pkce = Pkce()
    tokens = exchange(browser, new, get_code(browser, new.client.client_id, pkce), pkce).json()
    bearer = "Bearer " + tokens["access_token"]
    assert browser.get("/oidc/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 200
    revoked = browser.post(
        "/oidc/revoke/",
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret),
    )
    assert revoked.status_code == 200

    refused = browser.get("/oidc/userinfo/", HTTP_AUTHORIZATION=bearer)

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert refused.json()["error"] == "invalid_token"
    assert refused["Cache-Control"] == "no-store"
