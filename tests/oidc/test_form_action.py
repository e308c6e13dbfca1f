"""The pages whose form ends, through redirects, at a client let the browser send it there.

Chromium checks every redirect after a form is sent against the page's CSP ``form-action``;
with ``'self'`` alone it stopped the consent form's answer on its way to the client (found by
tests/e2e/test_oidc_mozilla_django_oidc.py). The page adds the origin of the client's
registered address, and nothing for an address the client did not register."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client as Browser

from tests.conftest import ADMIN_PASSWORD
from tests.oidc.support import LOGOUT_URI, authorize_query, log_in, make_client

pytestmark = pytest.mark.django_db

CLIENT_ORIGIN = "http://127.0.0.1:8765"  # of support.REDIRECT_URI and LOGOUT_URI


def form_action(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directive = next(d for d in policy.split(";") if d.strip().startswith("form-action"))
    return directive.split()[1:]


def test_the_consent_page_lets_its_answer_go_to_the_client(superuser):
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    consent = browser.get("/oidc/authorize/", authorize_query(new.client.client_id))
    assert consent.status_code == 200
    assert form_action(consent) == ["'self'", CLIENT_ORIGIN]


def test_a_log_in_on_its_way_to_a_client_may_end_there(superuser):
    new = make_client()
    sent = Browser().get("/oidc/authorize/", authorize_query(new.client.client_id))
    login = Browser().get(sent["Location"])
    assert form_action(login) == ["'self'", CLIENT_ORIGIN]
    refused = Browser().post(sent["Location"], {"username": "boss", "password": "wrong!"})
    assert form_action(refused) == ["'self'", CLIENT_ORIGIN]


@pytest.mark.parametrize(
    "query",
    [
        {"redirect_uri": "http://127.0.0.1:9999/elsewhere"},  # not registered
        {"client_id": "no-such-client"},
    ],
)
def test_no_origin_is_added_for_an_address_the_client_did_not_register(db, query):
    new = make_client()
    asked = {**authorize_query(new.client.client_id), **query}
    next_path = "/oidc/authorize/?" + urlencode(asked)
    login = Browser().get("/login/", {"app": "CRM", "next": next_path})
    assert form_action(login) == ["'self'"]
    assert form_action(Browser().get("/login/")) == ["'self'"]


def test_the_log_out_confirmation_may_return_to_the_client(superuser):
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    page = browser.get(
        "/oidc/logout/", {"client_id": new.client.client_id, "post_logout_redirect_uri": LOGOUT_URI}
    )
    assert page.status_code == 200 and b"Log out?" in page.content
    assert form_action(page) == ["'self'", CLIENT_ORIGIN]
