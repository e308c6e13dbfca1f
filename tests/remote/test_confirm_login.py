"""The "Confirm login" page of a known user, the Terms of Service, the portal
session, and the redirect to next_page."""

from __future__ import annotations

import re

import pytest

from admit.audit.models import AuditEvent
from admit.remote.models import RemoteRealmUser
from tests.remote.conftest import REALM_UUID, USER_UUID, known_user, link_body, login_path

pytestmark = pytest.mark.django_db

TOS_REQUIRED = b"You must accept the Terms of Service to proceed."


def test_known_user_sees_their_email_and_saved_name(client, server):
    known_user(client, server, email="ada@chat.example.com", full_name="Saved Name")
    page = client.get(login_path(client, server))
    assert page.status_code == 200 and b"Confirm login" in page.content
    assert b'value="ada@chat.example.com"' in page.content
    assert b'value="Saved Name"' in page.content
    assert b"Ada Admin" not in page.content  # the token's name does not override the saved one
    assert b'name="full_name"' in page.content
    assert b"tos_consent" not in page.content  # accepted 1.0, 1.0 in force


def test_the_page_offers_no_links_to_admits_own_accounts(client, server):
    known_user(client, server)
    page = client.get(login_path(client, server)).content.decode()
    assert 'href="/login/"' not in page and 'href="/signup/"' not in page
    assert 'action="/logout/"' not in page


def test_get_changes_nothing(client, server):
    user = known_user(client, server)
    client.get(login_path(client, server))
    user.refresh_from_db()
    assert user.last_login is None and user.full_name == "Saved Name"
    assert client.get("/api/v1/remotes/session").status_code == 401


def test_tos_checkbox_for_someone_who_never_accepted(client, server):
    known_user(client, server, tos_version="")
    page = client.get(login_path(client, server))
    assert b'name="tos_consent"' in page.content and b"version 1.0" in page.content


def test_post_without_consent_is_refused_and_saves_nothing(client, server):
    user = known_user(client, server, tos_version="")
    path = login_path(client, server)
    refused = client.post(path, {"full_name": "New Name"})
    assert refused.status_code == 400 and TOS_REQUIRED in refused.content
    assert b'name="tos_consent"' in refused.content  # the form is shown again
    user.refresh_from_db()
    assert (user.full_name, user.tos_version, user.last_login) == ("Saved Name", "", None)
    assert client.get("/api/v1/remotes/session").status_code == 401
    row = AuditEvent.objects.filter(event="remote.login").get()
    assert row.outcome == "error"
    # The same link still works once consent is given.
    done = client.post(path, {"full_name": "New Name", "tos_consent": "on"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.tos_version) == ("New Name", "1.0")
    assert user.last_login is not None
    ok = AuditEvent.objects.filter(event="remote.login", outcome="ok").get()
    assert ok.extra_data["tos_version"] == "1.0"
    assert str(ok.remote_realm_uuid) == REALM_UUID


def test_major_tos_bump_asks_again(client, server, policy):
    user = known_user(client, server, tos_version="1.0")
    policy(remote={"tos_version": "2.0"})
    path = login_path(client, server)
    assert b'name="tos_consent"' in client.get(path).content
    refused = client.post(path, {"full_name": "Saved Name"})
    assert refused.status_code == 400 and TOS_REQUIRED in refused.content
    user.refresh_from_db()
    assert user.tos_version == "1.0"
    assert client.post(path, {"full_name": "Saved Name", "tos_consent": "on"}).status_code == 302
    user.refresh_from_db()
    assert user.tos_version == "2.0"
    # Accepted 2.0: the next log-in does not ask.
    assert b"tos_consent" not in client.get(login_path(client, server)).content


@pytest.mark.parametrize("in_force", ["1.1", "1.9.3"])
def test_minor_tos_bump_does_not_ask(client, server, policy, in_force):
    user = known_user(client, server, tos_version="1.0")
    policy(remote={"tos_version": in_force})
    path = login_path(client, server)
    assert b"tos_consent" not in client.get(path).content
    assert client.post(path, {"full_name": "Saved Name"}).status_code == 302
    user.refresh_from_db()
    assert user.tos_version == "1.0" and user.last_login is not None


def test_name_change_is_saved_and_is_in_the_session(client, server):
    user = known_user(client, server)
    done = client.post(login_path(client, server), {"full_name": "  Ada Lovelace  "})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "Ada Lovelace"
    assert client.get("/api/v1/remotes/session").json()["user"]["full_name"] == "Ada Lovelace"


def test_blank_name_keeps_the_saved_one(client, server):
    user = known_user(client, server)
    assert client.post(login_path(client, server), {"full_name": "  "}).status_code == 302
    user.refresh_from_db()
    assert user.full_name == "Saved Name"


@pytest.mark.parametrize(
    ("next_page", "landing"),
    [
        ("account", "/portal/account/"),
        ("deactivate", "/portal/deactivate/"),
        ("overview", "/portal/"),
        (None, "/portal/"),
    ],
)
def test_redirects_to_next_page_or_the_overview(client, server, next_page, landing):
    known_user(client, server)
    path = login_path(client, server, link_body(next_page=next_page))
    done = client.post(path, {"full_name": "Ada"})
    assert done.status_code == 302 and done["Location"] == landing
    assert client.get(landing).status_code == 200


def test_portal_session_carries_the_identity(client, server, clock):
    known_user(client, server, email="ada@chat.example.com")
    assert client.get("/api/v1/remotes/session").status_code == 401
    client.post(login_path(client, server), {"full_name": "Ada"})
    identity = client.get("/api/v1/remotes/session").json()
    assert identity == {
        "user": {"uuid": USER_UUID, "email": "ada@chat.example.com", "full_name": "Ada"},
        "remote_server_uuid": server.uuid,
        "remote_realm_uuid": REALM_UUID,
        "authenticated_at": identity["authenticated_at"],
        "next_page": "account",
    }
    assert identity["authenticated_at"] == clock.current.strftime("%Y-%m-%dT%H:%M:%S")
    assert RemoteRealmUser.objects.get().last_login == clock.current


def test_session_endpoint_without_a_session_is_401_envelope(client):
    response = client.get("/api/v1/remotes/session")
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["sub_status"] == ["E005001"]
    assert body["cid"] == response["X-Correlation-ID"]


def test_log_in_gives_a_new_session_id(client, server):
    known_user(client, server)
    session = client.session  # a session that existed before the log-in
    session["marker"] = "before"
    session.save()
    before = client.cookies["sessionid"].value
    client.post(login_path(client, server), {"full_name": "Ada"})
    assert client.cookies["sessionid"].value != before


def test_another_users_link_starts_another_identity(client, server):
    known_user(client, server)
    other = link_body(
        user={
            "uuid": "00000000-0000-0000-0000-000000000003",
            "email": "bob@chat.example.com",
            "full_name": "Bob",
        }
    )
    page = client.get(login_path(client, server, other))
    # Bob has never logged in: he gets the e-mail form, not Ada's confirm-login page.
    assert b"Confirm login" not in page.content and b"Saved Name" not in page.content
    assert b'value="bob@chat.example.com"' in page.content
    assert RemoteRealmUser.objects.count() == 1


def test_confirm_login_post_needs_the_csrf_token(server):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    known_user(browser, server)
    path = login_path(browser, server)
    assert browser.post(path, {"full_name": "Ada"}).status_code == 403
    assert RemoteRealmUser.objects.get().last_login is None
    page = browser.get(path)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    done = browser.post(path, {"full_name": "Ada", "csrfmiddlewaretoken": token.decode()})
    assert done.status_code == 302
