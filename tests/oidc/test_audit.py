"""The audit log of the provider: a row for each authorization, consent, token issue, refresh,
reuse, revocation and logout, naming the client and the person -- and never a code, token,
verifier or secret."""

from __future__ import annotations

import json
import logging

import pytest

from admit.audit.models import AuditEvent
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    LOGOUT_URI,
    Pkce,
    authorize_query,
    basic,
    exchange,
    get_code,
    log_in,
    make_client,
    oauth_error,
    refresh,
    tokens_for,
    ust_of,
)

pytestmark = pytest.mark.django_db


TOKENS = ("access_token", "refresh_token", "id_token")


def issued_tokens(*answers: dict) -> list[str]:
    return [answer[name] for answer in answers for name in TOKENS]


def rows(event: str, outcome: str = "ok") -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event, outcome=outcome))


def everything_in(row: AuditEvent) -> str:
    """Every field of the row, as text: what someone reading the audit log could see."""
    values = [str(getattr(row, field.attname)) for field in AuditEvent._meta.concrete_fields]
    return " ".join(values) + " " + json.dumps(row.extra_data)


def test_every_step_is_audited_and_no_secret_is(browser, alice, caplog):
    """Nor in a log line, even with the log at DEBUG (``ADMIT_LOG_LEVEL=DEBUG``)."""
    caplog.set_level(logging.DEBUG)
    new = make_client(refresh_id_token=True)  # so that a refresh issues every kind of token
    log_in(browser, alice.username, GOOD_PASSWORD)
    secrets = [new.secret, GOOD_PASSWORD, ust_of(browser)]

    # A code, consented to, exchanged; then the same code again.
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)
    first = exchange(browser, new, code, pkce).json()
    assert oauth_error(exchange(browser, new, code, pkce)) == "invalid_grant"
    secrets += [code, pkce.verifier, *issued_tokens(first)]

    # A refresh, then the rotated refresh token again.
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)
    second = exchange(browser, new, code, pkce).json()
    renewed = refresh(browser, new, second["refresh_token"]).json()
    assert oauth_error(refresh(browser, new, second["refresh_token"])) == "invalid_grant"
    secrets += [code, pkce.verifier, *issued_tokens(second, renewed)]

    # A revocation, and a logout from the app.
    third = tokens_for(browser, new, Pkce())
    revoked = browser.post(
        "/oidc/revoke/",
        {"token": third["access_token"], "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic(new.client.client_id, new.secret),
    )
    assert revoked.status_code == 200
    query = {"id_token_hint": third["id_token"], "post_logout_redirect_uri": LOGOUT_URI}
    assert browser.get("/oidc/logout/", query).status_code == 302
    secrets += issued_tokens(third)

    client_id = new.client.client_id
    for event in ("oidc.authorize", "oidc.consent", "oidc.token", "oidc.refresh"):
        found = rows(event)
        assert found, event
        assert all(row.extra_data["client_id"] == client_id for row in found), event
        assert all(row.target_user_id == alice.user_id for row in found), event
    assert len(rows("oidc.token")) == 3  # three codes exchanged
    assert rows("oidc.consent")[0].extra_data["scope"] == "openid profile email"
    for event in ("oidc.code_reuse", "oidc.refresh_reuse"):
        (row,) = rows(event, "error")
        assert row.error_codes == "invalid_grant"
        assert row.target_user_id == alice.user_id
        assert row.extra_data["client_id"] == client_id
    (refused_code,) = rows("oidc.token", "error")
    assert refused_code.error_codes == "invalid_grant"
    (revocation,) = rows("oidc.revoke")
    assert revocation.extra_data["client_id"] == client_id
    assert revocation.target_user_id == alice.user_id
    (logout,) = rows("oidc.logout")
    assert logout.target_user_id == alice.user_id
    assert logout.extra_data["client_id"] == client_id

    assert len(set(secrets)) == len(secrets) == 19 and all(len(s) >= 8 for s in secrets)
    for row in AuditEvent.objects.all():
        text = everything_in(row)
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (row.event, leaked)
    assert caplog.records  # admit.request logged every request
    for record in caplog.records:
        text = record.getMessage()
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (record.name, leaked)


def test_a_refused_consent_and_a_refused_client_are_audited(browser, alice):
    new = make_client()
    log_in(browser, alice.username, GOOD_PASSWORD)
    pkce = Pkce()
    query = {
        "client_id": new.client.client_id,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "response_type": "code",
        "scope": "openid",
        "state": "s",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get("/oidc/authorize/", query)
    browser.post(
        page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"], {"decision": "deny"}
    )
    wrong = browser.post(
        "/oidc/token/",
        {"grant_type": "authorization_code", "code": "x" * 30},
        HTTP_AUTHORIZATION=basic(new.client.client_id, "wrong-secret-wrong-secret"),
    )
    assert oauth_error(wrong, 401) == "invalid_client"

    (denied,) = rows("oidc.consent", "error")
    assert denied.error_codes == "access_denied" and denied.target_user_id == alice.user_id
    (refused,) = rows("oidc.token", "error")
    assert refused.error_codes == "invalid_client"
    assert refused.extra_data["client_id"] == new.client.client_id
    assert "wrong-secret" not in everything_in(refused)


def test_every_refused_authorization_is_a_row_with_the_error_the_client_was_told(browser, alice):
    new = make_client()
    client_id = new.client.client_id
    # Before logging in: a silent request of someone not logged in here.
    browser.get("/oidc/authorize/", authorize_query(client_id, Pkce(), prompt="none"))
    log_in(browser, alice.username, GOOD_PASSWORD)
    # A challenge by a method other than S256.
    browser.get(
        "/oidc/authorize/",
        authorize_query(client_id, code_challenge="x" * 43, code_challenge_method="plain"),
    )
    # A silent request the person has not yet consented to.
    browser.get("/oidc/authorize/", authorize_query(client_id, Pkce(), prompt="none"))
    # A redirect URI that is not the client's (a page: never sent to the unknown address).
    browser.get(
        "/oidc/authorize/", authorize_query(client_id, Pkce(), redirect_uri="https://evil.example/")
    )
    # A client that does not exist.
    browser.get("/oidc/authorize/", authorize_query("no-such-client", Pkce()))

    refused = [
        (row.error_codes, row.extra_data["client_id"], row.target_user_id)
        for row in AuditEvent.objects.filter(event="oidc.authorize", outcome="error").order_by("pk")
    ]
    assert refused == [
        ("login_required", client_id, ""),
        ("invalid_request", client_id, ""),
        ("consent_required", client_id, alice.user_id),
        ("invalid_request", client_id, ""),
        ("invalid_request", "no-such-client", ""),
    ]
