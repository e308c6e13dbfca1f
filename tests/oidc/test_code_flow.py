"""The authorization code flow, end to end through Django's test client."""

from __future__ import annotations

import pytest
from django.test import Client as Browser

from tests.conftest import ADMIN_PASSWORD
from tests.oidc.support import Pkce, exchange, get_code, introspect, log_in, make_client, refresh

pytestmark = pytest.mark.django_db


def test_a_confidential_client_gets_tokens_that_name_the_person(superuser):
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)

    tokens = exchange(browser, new, code, pkce).json()

    assert set(tokens) >= {"access_token", "refresh_token", "id_token", "expires_in"}
    userinfo = browser.get("/oidc/userinfo/", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"])
    assert userinfo.json()["sub"] == superuser.user_id
    assert userinfo.json()["email"] == superuser.email
    assert introspect(browser, new, tokens["access_token"])["active"] is True
    renewed = refresh(browser, new, tokens["refresh_token"])
    assert renewed.status_code == 200
    assert introspect(browser, new, renewed.json()["access_token"])["active"] is True
