"""Tokens live and die with the admit session they were issued under: however that session
ends, a resource server learns at once that the access token is no longer good (introspection
inactive, userinfo 401), and the refresh token gets no new one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client as Browser

from admit.sso.flows.sessions import lifetime
from admit.sso.models import Session
from admit.sso.oidc.clients import NewClient
from admit.sso.oidc.models import AccessToken
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, ApiClient, Clock
from tests.oidc.support import (
    LOGOUT_URI,
    Pkce,
    is_live,
    log_in,
    make_client,
    oauth_error,
    refresh,
    session_of,
    tokens_for,
    ust_of,
)
from tests.sso.test_reset import mailed_token

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Seven swallows over the plum tree"


@dataclass
class Signed:
    """A person logged in through the browser, with the tokens a client got for them."""

    browser: Browser
    api: ApiClient
    admin_ust: str
    user_id: str
    username: str
    client: NewClient
    tokens: dict
    clock: Clock


@pytest.fixture
def signed(browser, api, admin_ust, alice, clock) -> Signed:
    log_in(browser, alice.username, GOOD_PASSWORD)
    new = make_client()
    tokens = tokens_for(browser, new, Pkce())
    assert is_live(browser, new, tokens["access_token"])
    return Signed(browser, api, admin_ust, alice.user_id, alice.username, new, tokens, clock)


def ok(response) -> None:
    assert response.status_code in (200, 302), (response.status_code, response.content[:300])


# Every way an admit session ends


def by_logging_out(s: Signed) -> None:
    ok(s.browser.post("/logout/"))


def on_the_account_page(s: Signed) -> None:
    response = s.browser.post("/account/sessions/end/", {"session_id": session_of(s.browser).pk})
    ok(response)


def by_a_superuser_in_the_console(s: Signed) -> None:
    console = Browser()
    log_in(console, "boss", ADMIN_PASSWORD)
    ok(console.post(f"/console/users/{s.user_id}/sessions/end/"))


def by_a_superuser_through_the_api(s: Signed) -> None:
    body = {"current_ust": s.admin_ust, "target_ust": ust_of(s.browser)}
    ok(s.api.call("DELETE", "/zato/sso/user/session", body))


def by_a_lock(s: Signed) -> None:
    ok(s.api.post("/zato/sso/user/lock", {"ust": s.admin_ust, "user_id": s.user_id}))


def by_taking_away_approval(s: Signed) -> None:
    body = {"ust": s.admin_ust, "user_id": s.user_id, "approval_status": "before_decision"}
    ok(s.api.call("PATCH", "/zato/sso/user", body))


def by_taking_away_confirmation(s: Signed) -> None:
    body = {"ust": s.admin_ust, "user_id": s.user_id, "sign_up_status": "before_confirmation"}
    ok(s.api.call("PATCH", "/zato/sso/user", body))


def by_a_password_change(s: Signed) -> None:
    """The person changes their password from another session: every other one ends."""
    login = {"username": s.username, "password": GOOD_PASSWORD, "current_app": "CRM"}
    other = s.api.post("/zato/sso/user/login", login).json()["ust"]
    body = {"ust": other, "old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD}
    ok(s.api.call("PATCH", "/zato/sso/user/password", body))


def by_a_password_reset(s: Signed) -> None:
    reset = "/zato/sso/password/reset"
    ok(s.api.post(reset, {"credential": s.username, "current_app": "CRM"}))
    token = mailed_token(f"{s.username}@example.com")
    reset_key = s.api.call("PATCH", reset, {"token": token}).json()["reset_key"]
    body = {"token": token, "reset_key": reset_key, "password": NEW_PASSWORD}
    ok(s.api.call("DELETE", reset, body))


def by_deleting_the_user(s: Signed) -> None:
    ok(s.api.call("DELETE", "/zato/sso/user", {"ust": s.admin_ust, "user_id": s.user_id}))


def by_rp_initiated_logout(s: Signed) -> None:
    query = {
        "id_token_hint": s.tokens["id_token"],
        "post_logout_redirect_uri": LOGOUT_URI,
        "state": "bye",
    }
    response = s.browser.get("/oidc/logout/", query)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == LOGOUT_URI + "?state=bye"
    assert "admit_ust" not in s.browser.session


def by_expiry(s: Signed) -> None:
    s.clock.advance(seconds=lifetime("CRM").total_seconds() + 1)


ENDINGS = [
    by_logging_out,
    on_the_account_page,
    by_a_superuser_in_the_console,
    by_a_superuser_through_the_api,
    by_a_lock,
    by_taking_away_approval,
    by_taking_away_confirmation,
    by_a_password_change,
    by_a_password_reset,
    by_deleting_the_user,
    by_rp_initiated_logout,
    by_expiry,
]


@pytest.mark.parametrize("end", ENDINGS, ids=[end.__name__ for end in ENDINGS])
def test_tokens_die_with_the_admit_session(signed, end):
    new = signed.client

    end(signed)

    assert not is_live(signed.browser, new, signed.tokens["access_token"])
    assert oauth_error(refresh(signed.browser, new, signed.tokens["refresh_token"])) == (
        "invalid_grant"
    )


def test_a_session_that_ended_takes_its_tokens_rows_with_it(signed):
    """The rows go, not just a flag: nothing of the session is left to be honoured."""
    session = session_of(signed.browser)
    assert AccessToken.objects.filter(session=session).exists()

    by_logging_out(signed)

    assert not Session.objects.filter(pk=session.pk).exists()
    assert not AccessToken.objects.exists()


def test_a_refresh_renews_the_admit_sessions_expiry(signed):
    new = signed.client
    session = session_of(signed.browser)
    life = lifetime("CRM")
    signed.clock.advance(seconds=life.total_seconds() - 60)

    renewed = refresh(signed.browser, new, signed.tokens["refresh_token"])

    assert renewed.status_code == 200, renewed.content
    session.refresh_from_db()
    assert session.expires_at == signed.clock() + life
    # Past the first expiry, the session and the new tokens are still good ...
    signed.clock.advance(seconds=120)
    tokens = renewed.json()
    assert is_live(signed.browser, new, tokens["access_token"])
    again = refresh(signed.browser, new, tokens["refresh_token"])
    assert again.status_code == 200, again.content
    # ... and once the renewed expiry passes without a refresh, they are not.
    signed.clock.advance(seconds=life.total_seconds() + 1)
    assert not is_live(signed.browser, new, again.json()["access_token"])
