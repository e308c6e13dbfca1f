"""The refresh grant's own storage (``validator.save_bearer_token``, ``queries``): what a
relying party gets, what is left in the database, and what another client or an old token get
instead. A replayed token is in test_refusals.py."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext

from admit.audit.models import AuditEvent
from admit.core import clock
from admit.sso.flows.sessions import lifetime
from admit.sso.models import Session
from admit.sso.oidc import issuing, queries
from admit.sso.oidc.models import AccessToken, IDToken, RefreshToken
from admit.sso.oidc.views import issuer
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import (
    Pkce,
    basic,
    id_token_claims,
    introspect,
    is_live,
    log_in,
    make_client,
    oauth_error,
    refresh,
    tokens_for,
)

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def signed_in(browser, alice):
    log_in(browser, "alice", GOOD_PASSWORD)
    return browser


@pytest.mark.django_db
def test_a_refresh_gives_a_new_pair_and_ends_the_old_access_token(signed_in, alice):
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())

    response = refresh(signed_in, new, first["refresh_token"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert is_live(signed_in, new, second["access_token"])
    assert not is_live(signed_in, new, first["access_token"])
    # Of the family, only the new refresh token is live; both belong to the same session.
    family = RefreshToken.objects.order_by("pk")
    assert [token.revoked is None for token in family] == [False, True]
    assert family[0].session_id == family[1].session_id == AccessToken.objects.get().session_id


@pytest.mark.django_db
def test_by_default_a_refresh_answers_without_an_id_token(signed_in, alice):
    """OpenID Connect Core 12.2: the relying party keeps the ID token of the log-in."""
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())

    response = refresh(signed_in, new, first["refresh_token"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert "id_token" not in second
    assert second["scope"].split() == first["scope"].split()
    assert is_live(signed_in, new, second["access_token"])
    # No ID token was signed, so no row for one: only the log-in's is there.
    login = IDToken.objects.get()
    assert id_token_claims(signed_in, first["id_token"])["jti"] == str(login.jti)
    assert AccessToken.objects.get().id_token is None


@pytest.mark.django_db
def test_a_client_that_asks_gets_a_signed_id_token_with_its_row_from_every_refresh(
    signed_in, alice, clock
):
    new = make_client(refresh_id_token=True)
    first = tokens_for(signed_in, new, Pkce(), nonce="first-nonce")
    original = id_token_claims(signed_in, first["id_token"])
    clock.advance(minutes=3)

    second = refresh(signed_in, new, first["refresh_token"]).json()

    claims = id_token_claims(signed_in, second["id_token"])
    assert claims["sub"] == alice.user_id
    assert claims["aud"] == new.client.client_id
    assert claims["iss"] == issuer()
    assert claims["acr"] == "1" and claims["amr"] == ["pwd"]
    assert claims["jti"] != original["jti"]
    # OpenID Connect Core 12.2: the log-in's time, not the refresh's; no nonce.
    assert original["nonce"] == "first-nonce"
    assert claims["auth_time"] == original["auth_time"]
    assert "nonce" not in claims
    # The new access token is tied to that ID token's row, which is the session's.
    access_token = AccessToken.objects.get()
    assert str(access_token.id_token.jti) == claims["jti"]
    assert access_token.id_token.session_id == access_token.session_id
    assert IDToken.objects.count() == 2


@pytest.mark.django_db
def test_a_refresh_without_the_openid_scope_has_no_id_token(signed_in):
    new = make_client()
    first = tokens_for(signed_in, new, Pkce(), scope="profile")
    assert "id_token" not in first

    response = refresh(signed_in, new, first["refresh_token"])

    assert response.status_code == 200, response.content
    assert "id_token" not in response.json()
    assert introspect(signed_in, new, response.json()["access_token"])["scope"] == "profile"
    assert AccessToken.objects.get().id_token is None


@pytest.mark.django_db
def test_another_clients_refresh_token_is_invalid_grant_and_stays_good(signed_in):
    crm, other = make_client(), make_client(skip_consent=True)
    first = tokens_for(signed_in, crm, Pkce())

    assert oauth_error(refresh(signed_in, other, first["refresh_token"])) == "invalid_grant"

    assert refresh(signed_in, crm, first["refresh_token"]).status_code == 200


@pytest.mark.django_db
def test_a_refresh_token_past_its_lifetime_is_invalid_grant(signed_in):
    """It lives ``[oidc] refresh_token_lifetime`` past its access token's expiry."""
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())
    lifetime = timedelta(seconds=settings.ADMIT_POLICY.oidc.refresh_token_lifetime)
    AccessToken.objects.update(expires=clock.now() - lifetime - timedelta(seconds=1))

    assert oauth_error(refresh(signed_in, new, first["refresh_token"])) == "invalid_grant"

    assert RefreshToken.objects.get().revoked is None  # refused, not rotated


@pytest.fixture
def read_before_the_other_wrote(monkeypatch):
    """Every refresh finds the token as the first one to present it found it: as two
    refreshes with one token at once would, the second reading before the first wrote."""
    read = queries.refresh_grant
    first_read: dict[str, queries.PresentedRefreshToken | None] = {}

    def stale(client_id: str, checksum: str, counter: Any) -> queries.RefreshGrantRead | None:
        found = read(client_id, checksum, counter)
        assert found is not None
        if checksum not in first_read:
            first_read[checksum] = found.presented
        return found._replace(presented=first_read[checksum])

    monkeypatch.setattr(queries, "refresh_grant", stale)


@pytest.mark.django_db(transaction=True)
def test_of_two_refreshes_with_one_token_at_once_one_wins_and_the_family_dies(
    signed_in, alice, read_before_the_other_wrote
):
    """A token presented twice is a second use, whoever won: the loser writes nothing and
    its family, the winner's new tokens included, is revoked, as on any reuse. Here the
    winner has even refreshed again before the loser writes, so only the take of the token
    (not a unique index on what the winner wrote) can stop the loser."""
    new = make_client(refresh_id_token=True)
    first = tokens_for(signed_in, new, Pkce())

    won = refresh(signed_in, new, first["refresh_token"])
    assert won.status_code == 200, won.content
    won_again = refresh(signed_in, new, won.json()["refresh_token"])
    assert won_again.status_code == 200, won_again.content
    lost = refresh(signed_in, new, first["refresh_token"])

    assert oauth_error(lost) == "invalid_grant"
    assert not is_live(signed_in, new, won_again.json()["access_token"])
    assert AccessToken.objects.count() == 0  # the winner's died with the family
    assert RefreshToken.objects.count() == 3  # the code exchange's, the winner's two
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert IDToken.objects.count() == 3  # none of the loser's
    again = refresh(signed_in, new, won_again.json()["refresh_token"])
    assert oauth_error(again) == "invalid_grant"
    refusals = AuditEvent.objects.filter(target_user_id=alice.user_id, outcome="error")
    assert {"oidc.refresh", "oidc.refresh_reuse"} <= set(refusals.values_list("event", flat=True))


@pytest.mark.parametrize("renews", [False, True], ids=["without renewal", "renewing it"])
@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_session_ends_while_it_is_answered_gets_nothing(
    browser, alice, monkeypatch, clock, renews
):
    """The session ends (its owner signs out everywhere) after the refresh read it and before
    it wrote: the refresh is refused and leaves no token and no session behind, whether it
    would have renewed the session or not (either way, the new tokens' reference to the
    session fails)."""
    log_in(browser, "alice", GOOD_PASSWORD)
    signed_in = browser
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())
    if renews:
        clock.advance(minutes=5)
    read = queries.refresh_grant

    def then_the_session_ends(
        client_id: str, checksum: str, counter: Any
    ) -> queries.RefreshGrantRead | None:
        found = read(client_id, checksum, counter)
        Session.objects.filter(user=alice).delete()
        return found

    monkeypatch.setattr(queries, "refresh_grant", then_the_session_ends)

    assert oauth_error(refresh(signed_in, new, first["refresh_token"])) == "invalid_grant"
    assert not Session.objects.filter(user=alice).exists()
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    assert not IDToken.objects.exists()
    refused = AuditEvent.objects.filter(event="oidc.refresh", outcome="error").get()
    assert refused.error_codes == "invalid_grant"
    assert not AuditEvent.objects.filter(event="oidc.refresh_reuse").exists()


# The rate limit and the tokens themselves


@pytest.mark.django_db
def test_refreshes_count_against_the_clients_limit_and_a_refused_one_changes_nothing(
    signed_in, policy
):
    """The code exchange and each refresh are one token request each; past the limit the
    refresh is refused with 429 before anything is written, and its token stays good."""
    policy(rate_limits={"oidc_tokens_per_client": (3, 60)})
    new = make_client()
    token = tokens_for(signed_in, new, Pkce())["refresh_token"]
    for _ in range(2):
        answer = refresh(signed_in, new, token)
        assert answer.status_code == 200, answer.content
        token = answer.json()["refresh_token"]

    limited = refresh(signed_in, new, token)

    assert limited.status_code == 429
    assert limited.json()["error"] == "slow_down"
    assert 1 <= int(limited["Retry-After"]) <= 60
    live = RefreshToken.objects.filter(revoked__isnull=True)
    assert live.count() == 1 and live.get().token_checksum == issuing.checksum(token)
    assert AuditEvent.objects.filter(event="oidc.refresh", error_codes="rate_limited").exists()
    # Another client is counted apart.
    other = make_client()
    other_token = tokens_for(signed_in, other, Pkce())["refresh_token"]
    assert refresh(signed_in, other, other_token).status_code == 200


@pytest.mark.django_db
def test_a_refused_refresh_counts_too(signed_in, policy):
    """A refresh the library refuses (a made-up token) is still a token request."""
    policy(rate_limits={"oidc_tokens_per_client": (2, 60)})
    new = make_client()
    token = tokens_for(signed_in, new, Pkce())["refresh_token"]

    assert oauth_error(refresh(signed_in, new, "made-up")) == "invalid_grant"

    assert refresh(signed_in, new, token).status_code == 429


def test_a_stranger_naming_the_client_spends_their_own_budget_not_the_clients(signed_in, policy):
    """A client's id is no secret (it is in every authorization request): refreshes sent
    from another address in its name are counted for that address, and the client itself
    refreshes on."""
    policy(rate_limits={"oidc_tokens_per_client": (2, 60)})
    new = make_client()
    token = tokens_for(signed_in, new, Pkce())["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": "made-up"}
    auth = basic(new.client.client_id, "wrong secret")

    strangers = [
        signed_in.post("/oidc/token/", data, HTTP_AUTHORIZATION=auth, REMOTE_ADDR="203.0.113.9")
        for _ in range(3)
    ]

    assert [answer.status_code for answer in strangers] == [401, 401, 429]
    assert refresh(signed_in, new, token).status_code == 200


@pytest.mark.django_db
def test_access_and_refresh_tokens_carry_256_random_bits(signed_in):
    new = make_client()
    first = tokens_for(signed_in, new, Pkce())
    second = refresh(signed_in, new, first["refresh_token"]).json()

    issued = [first["access_token"], first["refresh_token"]]
    issued += [second["access_token"], second["refresh_token"]]
    assert len(set(issued)) == 4
    for token in issued:
        # 43 characters of the URL-safe base64 alphabet: 256 bits.
        assert len(token) == 43 and set(token) <= URL_SAFE, token


# What a refresh costs the database


def refresh_statements(signed_in, new) -> tuple[list[str], dict]:
    """The statements one refresh sends (from a relying party without cookies, as a server
    would), and its answer."""
    first = tokens_for(signed_in, new, Pkce())
    with CaptureQueriesContext(connection) as captured:
        answer = refresh(Browser(), new, first["refresh_token"])
    assert answer.status_code == 200, answer.content
    return [query["sql"] for query in captured.captured_queries], answer.json()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_reads_the_person_once_and_never_their_secrets(signed_in, alice):
    """One read finds the client, the token, its session and its person; nothing reads the
    person again (a deferred field would), and the password digest and TOTP secret are not
    read at all."""
    statements, tokens = refresh_statements(signed_in, make_client(refresh_id_token=True))

    assert sum('"sso_user"' in statement for statement in statements) == 1
    assert not any('"password"' in s or '"totp_secret"' in s for s in statements)
    claims = id_token_claims(signed_in, tokens["id_token"])
    assert claims["sub"] == alice.user_id and claims["email"] == alice.email
    # Made by a super-user, so not proven (tests/oidc/test_email_verified.py): from that read too.
    assert claims["email_verified"] is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_refresh_is_one_read_and_one_write(signed_in):
    if connection.vendor != "postgresql":
        pytest.skip("the writes as one statement are PostgreSQL's (SQLite: one transaction)")
    statements, _tokens = refresh_statements(signed_in, make_client())

    assert len(statements) == 2, statements
    assert statements[0].startswith("SELECT") and statements[1].startswith("WITH")


@pytest.mark.django_db
def test_a_refresh_renews_its_session_at_most_once_a_minute(browser, alice, clock):
    log_in(browser, "alice", GOOD_PASSWORD)
    new = make_client()
    token = tokens_for(browser, new, Pkce())["refresh_token"]
    session = Session.objects.get(user=alice)
    signed_in_until = session.expires_at

    clock.advance(seconds=30)
    answer = refresh(browser, new, token)
    assert answer.status_code == 200, answer.content
    session.refresh_from_db()
    assert session.expires_at == signed_in_until  # half a minute: not worth a write

    clock.advance(minutes=5)
    answer = refresh(browser, new, answer.json()["refresh_token"])
    assert answer.status_code == 200, answer.content
    session.refresh_from_db()
    assert session.expires_at == clock() + lifetime(session.app)


@pytest.mark.django_db
def test_refreshes_naming_a_client_that_does_not_exist_count_too(browser, policy):
    policy(rate_limits={"oidc_tokens_per_client": (1, 60)})
    data = {"grant_type": "refresh_token", "refresh_token": "made-up"}
    auth = basic("no-such-client", "secret")

    first = browser.post("/oidc/token/", data, HTTP_AUTHORIZATION=auth)
    second = browser.post("/oidc/token/", data, HTTP_AUTHORIZATION=auth)

    assert oauth_error(first, 401) == "invalid_client"
    assert second.status_code == 429
