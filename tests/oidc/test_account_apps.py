"""The person's side of consent: "Apps with access" on the account page, and "Revoke", which
takes back the consent and every token the app holds for that person (and nobody else's)."""

from __future__ import annotations

import re

import pytest
from django.test import Client as Browser

from admit.audit.models import AuditEvent
from admit.sso.oidc.models import Consent
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, make_user
from tests.oidc.support import (
    Pkce,
    authorize_query,
    exchange,
    get_code,
    introspect,
    log_in,
    make_client,
    refresh,
)

pytestmark = pytest.mark.django_db


def allowed(browser: Browser, new) -> dict:
    """The browser's person allows the client (on the consent page) and the client gets
    tokens."""
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)
    return exchange(browser, new, code, pkce).json()


def apps_section(browser: Browser) -> str:
    page = browser.get("/account/").content.decode()
    found = re.search(r'<section class="card" id="apps".*?</section>', page, re.DOTALL)
    assert found, page
    return found.group(0)


def test_an_app_the_person_allowed_is_listed_in_words_with_a_revoke_button(superuser):
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    assert "No app has asked to use your account yet." in apps_section(browser)
    new = make_client("ERP")
    allowed(browser, new)

    section = apps_section(browser)
    assert "<h3>ERP</h3>" in section
    for words in (
        "know who you are (your account&#x27;s id)",
        "see your username and your name",
        "see your e-mail address and whether it is confirmed",
    ):
        assert f"<li>{words}</li>" in section
    granted = Consent.objects.get().granted_at
    assert f'<time datetime="{granted.isoformat()}">' in section
    assert f'name="client_id" value="{new.client.client_id}"' in section
    assert "csrfmiddlewaretoken" in section


def test_revoke_removes_the_app_and_its_tokens_stop_working(superuser):
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    new = make_client()
    tokens = allowed(browser, new)
    assert introspect(browser, new, tokens["access_token"])["active"] is True
    # The account page as a browser uses it: Django's CSRF check on.
    browser, logged_in = Browser(enforce_csrf_checks=True), browser
    browser.cookies = logged_in.cookies
    page = browser.get("/account/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    # Without the CSRF token nothing happens.
    refused = browser.post("/account/apps/revoke/", {"client_id": new.client.client_id})
    assert refused.status_code == 403
    assert Consent.objects.exists()

    done = browser.post(
        "/account/apps/revoke/",
        {"client_id": new.client.client_id, "csrfmiddlewaretoken": csrf},
        follow=True,
    )
    assert "The app no longer has access to your account." in done.content.decode()
    assert "No app has asked to use your account yet." in apps_section(browser)
    assert introspect(browser, new, tokens["access_token"])["active"] is False
    assert refresh(browser, new, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    row = AuditEvent.objects.get(event="oidc.consent_revoke")
    assert (row.target_user_id, row.app) == (superuser.user_id, "CRM")
    assert row.extra_data == {"client_id": new.client.client_id}
    # The person is still logged in to admit, and the app asks again next time.
    assert browser.get("/account/").status_code == 200
    again = browser.get("/oidc/authorize/", authorize_query(new.client.client_id, Pkce()))
    assert again.status_code == 200 and b"Allow CRM to use your account?" in again.content


def test_one_person_cannot_revoke_anothers_access(superuser, admin_ust, api):
    new = make_client()
    boss = Browser()
    log_in(boss, superuser.username, ADMIN_PASSWORD)
    tokens = allowed(boss, new)
    make_user(api, admin_ust, "bob")
    bob = Browser()
    log_in(bob, "bob", GOOD_PASSWORD)

    answer = bob.post("/account/apps/revoke/", {"client_id": new.client.client_id})

    assert answer.status_code == 404
    assert "That app has no access to your account." in answer.content.decode()
    assert Consent.objects.filter(user=superuser).count() == 1
    assert introspect(boss, new, tokens["access_token"])["active"] is True
    assert "<h3>CRM</h3>" in apps_section(boss)
    assert not AuditEvent.objects.filter(event="oidc.consent_revoke").exists()


def test_revoke_needs_a_log_in(superuser):
    new = make_client()
    boss = Browser()
    log_in(boss, superuser.username, ADMIN_PASSWORD)
    allowed(boss, new)
    stranger = Browser()
    answer = stranger.post("/account/apps/revoke/", {"client_id": new.client.client_id})
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert Consent.objects.count() == 1
