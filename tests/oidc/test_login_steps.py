"""The log-in steps between an app's authorization request and its redirect URI, as a browser
takes them: /oidc/authorize/ sends the person to /login/, whose form (posted to its own
address, with the hidden fields it carries) may ask for a TOTP code or a new password before
the log-in is done, and may be paused by the log-in throttle; each ends back at the
authorization request, and from there at the app with a code."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.test import Client as Browser

from admit.core import totp
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    NOTHING,
    Pkce,
    authorize_query,
    callback_params,
    exchange,
    issued,
    make_client,
    make_person,
    session_of,
)
from tests.oidc.test_keys import verified
from tests.sso.test_pages import text

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Seven swallows over the plum tree"


def address_of(response) -> str:
    """Where the page was asked for: its form (which names no action) posts back there."""
    query = response.request["QUERY_STRING"]
    return response.request["PATH_INFO"] + (f"?{query}" if query else "")


def hidden_fields(response) -> dict[str, str]:
    """The hidden inputs of the page's form, which the browser posts with what is typed."""
    found = re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.content.decode()
    )
    return {name: unescape(value) for name, value in found}


def heading(response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)
    assert found, response.content[:500]
    return unescape(found[1]).strip()


class App:
    """A client of CRM that starts an authorization request, as a relying party does."""

    def __init__(self) -> None:
        self.new = make_client()
        self.pkce = Pkce()
        self.query = authorize_query(self.new.client.client_id, self.pkce)
        self.authorize = "/oidc/authorize/?" + urlencode(self.query)

    def log_in_page(self, browser: Browser):
        """The app sends the browser to authorize, which sends it to admit's log-in page."""
        sent = browser.get(self.authorize)
        assert sent.status_code == 302 and sent["Location"].startswith("/login/?"), sent
        page = browser.get(sent["Location"])
        assert page.status_code == 200 and heading(page) == "Log in"
        return page

    def code_after(self, browser: Browser, logged_in) -> str:
        """From a log-in that is done: back at the authorization request, the person allows
        the app on the consent page and lands at its redirect URI with a code."""
        assert logged_in.status_code == 302, logged_in.content[:500]
        assert logged_in["Location"] == self.authorize
        consent = browser.get(logged_in["Location"])
        assert consent.status_code == 200 and heading(consent) == "Allow CRM to use your account?"
        params = callback_params(browser.post(address_of(consent), {"decision": "allow"}))
        assert params["state"] == self.query["state"]
        return params["code"]

    def claims(self, browser: Browser, code: str) -> dict:
        """The verified claims of the ID token the code is exchanged for."""
        answer = exchange(browser, self.new, code, self.pkce)
        assert answer.status_code == 200, answer.content
        return verified(browser, self.new, answer.json()["id_token"], self.query["nonce"])


def test_totp_is_asked_for_on_the_way_to_the_app_and_the_id_token_says_otp(browser, alice, clock):
    key = totp.new_secret()
    alice.totp_secret, alice.is_totp_enabled = totp.seal(key), True
    alice.save()
    app = App()
    page = app.log_in_page(browser)

    asked = browser.post(address_of(page), {"username": "alice", "password": GOOD_PASSWORD})

    # The right password is not yet a log-in: the same page asks for the code.
    assert heading(asked) == "Enter your code"
    assert "Enter the 6-digit code from your authenticator app." in text(asked)
    assert "admit_ust" not in browser.session
    fields = hidden_fields(asked)
    assert fields["next"] == app.authorize and fields["totp_step"] == "1"
    logged_in = browser.post(
        address_of(asked),
        {
            **fields,
            "username": "alice",
            "password": GOOD_PASSWORD,
            "totp_code": totp.code_at(key, totp.step_of(clock())),
        },
    )

    code = app.code_after(browser, logged_in)
    claims = app.claims(browser, code)
    assert claims["sub"] == alice.user_id
    assert "otp" in claims["amr"] and "pwd" in claims["amr"]
    assert claims["acr"] == "2"
    assert claims["auth_time"] == int(session_of(browser).created_at.timestamp())


def test_a_password_that_must_change_is_changed_on_the_way_to_the_app(browser, admin_ust):
    bob = make_person(admin_ust, "bob", password_must_change=True)
    app = App()
    page = app.log_in_page(browser)

    asked = browser.post(address_of(page), {"username": "bob", "password": GOOD_PASSWORD})

    # The right password is not yet a log-in: the same page asks for a new one.
    assert heading(asked) == "Choose a new password"
    assert "You must choose a new password before you continue." in text(asked)
    assert "admit_ust" not in browser.session
    fields = hidden_fields(asked)
    assert fields["next"] == app.authorize and fields["new_password_step"] == "1"
    logged_in = browser.post(
        address_of(asked),
        {**fields, "username": "bob", "password": GOOD_PASSWORD, "new_password": NEW_PASSWORD},
    )

    code = app.code_after(browser, logged_in)
    assert app.claims(browser, code)["sub"] == bob.user_id
    changed = User.objects.get(pk=bob.pk)
    assert not changed.password_must_change
    assert changed.check_password(NEW_PASSWORD) and not changed.check_password(GOOD_PASSWORD)


def test_failed_log_ins_on_the_way_to_the_app_are_throttled(browser, alice, policy, clock):
    policy(rate_limits={"login_failures_per_address": (2, 600)})
    app = App()
    page = app.log_in_page(browser)

    for guess in ("wrong 1", "wrong 2"):
        failed = browser.post(address_of(page), {"username": "alice", "password": guess})
        assert failed.status_code == 400
        assert "The username or the password is not right." in text(failed)
    paused = browser.post(address_of(page), {"username": "alice", "password": GOOD_PASSWORD})

    # Even the right password is not looked at while the address is paused.
    assert paused.status_code == 429
    assert re.search(r"Too many attempts\. Try again in \d+ minutes?\.", text(paused))
    assert "admit_ust" not in browser.session
    again = browser.get(app.authorize)
    assert again.status_code == 302 and again["Location"].startswith("/login/?")
    assert issued() == NOTHING
    # Once the pause is over, the same page logs the person in and on to the app.
    clock.advance(seconds=600)
    logged_in = browser.post(
        address_of(paused),
        {**hidden_fields(paused), "username": "alice", "password": GOOD_PASSWORD},
    )
    assert app.claims(browser, app.code_after(browser, logged_in))["sub"] == alice.user_id
