"""The signed access token of a log-in link, and what a person sees when it is not good."""

from __future__ import annotations

import pytest

from admit.remote import tokens
from admit.remote.models import RemoteRealmUser
from tests.remote.conftest import known_user, login_path

pytestmark = pytest.mark.django_db


def tampered(path: str) -> str:
    token = path.removeprefix("/remote-login/").removesuffix("/")
    middle = len(token) // 2
    changed = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    return f"/remote-login/{changed}/"


def assert_clear_page(response, status: int, words: bytes) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert words in response.content
    assert b"Traceback" not in response.content and b"<form" not in response.content


def test_token_carries_the_identity(client, server):
    path = login_path(client, server)
    identity = tokens.read(path.removeprefix("/remote-login/").removesuffix("/"))
    assert identity.server_uuid == server.uuid
    assert identity.user_uuid == "00000000-0000-0000-0000-000000000002"
    assert identity.realm_uuid == "00000000-0000-0000-0000-000000000001"
    assert (identity.email, identity.full_name) == ("admin@chat.example.com", "Ada Admin")
    assert (identity.uri_scheme, identity.next_page) == ("https://", "account")


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_token_has_its_own_page(client, server, method):
    known_user(client, server)
    path = tampered(login_path(client, server))
    response = getattr(client, method)(path, {"full_name": "Mallory", "tos_consent": "on"})
    assert_clear_page(response, 400, b"not valid")
    assert RemoteRealmUser.objects.get().full_name == "Saved Name"


@pytest.mark.parametrize("token", ["x", "a:b:c", "....", "-" * 300])
def test_garbage_token_has_the_invalid_page(client, token):
    assert_clear_page(client.get(f"/remote-login/{token}/"), 400, b"not valid")


def test_token_signed_for_another_purpose_is_not_valid(client, server):
    from django.core import signing

    forged = signing.dumps({"server_uuid": server.uuid}, salt="another.purpose", compress=True)
    assert_clear_page(client.get(f"/remote-login/{forged}/"), 400, b"not valid")


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_token_has_its_own_page(client, server, clock, policy, method):
    policy(remote={"login_token_max_age": 600})
    known_user(client, server)
    path = login_path(client, server)
    clock.advance(seconds=599)
    assert client.get(path).status_code == 200
    clock.advance(seconds=2)
    response = getattr(client, method)(path, {"full_name": "Late", "tos_consent": "on"})
    assert_clear_page(response, 410, b"expired")
    assert RemoteRealmUser.objects.get().last_login is None
    assert client.get("/api/v1/remotes/session").status_code == 401


def test_expired_token_for_a_first_time_user_sends_no_email(client, server, clock):
    from admit.mail.models import OutgoingEmail

    path = login_path(client, server)
    clock.advance(seconds=7201)
    response = client.post(path, {"email": "admin@chat.example.com"})
    assert_clear_page(response, 410, b"expired")
    assert not OutgoingEmail.objects.exists()


def test_replayed_token_is_refused_after_it_completed_a_log_in(client, server):
    known_user(client, server)
    path = login_path(client, server)
    assert client.post(path, {"full_name": "Ada"}).status_code == 302
    for method in ("get", "post"):
        other_browser = type(client)()
        response = getattr(other_browser, method)(path, {"full_name": "Mallory"})
        assert_clear_page(response, 410, b"used already")
        assert other_browser.get("/api/v1/remotes/session").status_code == 401
    assert RemoteRealmUser.objects.get().full_name == "Ada"


def test_a_fresh_link_works_after_another_was_used(client, server):
    known_user(client, server)
    assert client.post(login_path(client, server), {"full_name": "Ada"}).status_code == 302
    assert client.post(login_path(client, server), {"full_name": "Ada"}).status_code == 302


def test_a_link_opened_but_not_used_stays_valid(client, server):
    known_user(client, server)
    path = login_path(client, server)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    assert client.post(path, {"full_name": "Ada"}).status_code == 302


def test_sweeping_spent_links_keeps_replays_refused(client, server, clock):
    from admit.remote.flows.confirm_login import sweep_spent
    from admit.remote.models import SpentLoginToken

    known_user(client, server)
    path = login_path(client, server)
    client.post(path, {"full_name": "Ada"})
    assert sweep_spent() == 0 and SpentLoginToken.objects.count() == 1
    clock.advance(seconds=7201)
    assert sweep_spent() == 1
    assert_clear_page(type(client)().get(path), 410, b"expired")
