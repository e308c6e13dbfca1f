"""The portal pages behind the portal session, and what happens without one."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from admit.remote.models import RemoteRealm, RemoteRealmUser
from tests.conftest import DEFAULT_POLICY
from tests.remote.conftest import known_user, link_body, log_in, login_path

pytestmark = pytest.mark.django_db

PAGES = ["/portal/", "/portal/account/", "/portal/deactivate/"]


@pytest.mark.parametrize("page", PAGES)
def test_portal_page_without_a_session_is_401_not_authenticated(client, page):
    response = client.get(page)
    assert response.status_code == 401 and b"Not authenticated" in response.content
    assert "Location" not in response


@pytest.mark.parametrize(
    ("page", "shows"),
    [
        ("/portal/", b"Logged in as Ada Admin"),
        ("/portal/account/", b"<dd>Ada Admin</dd>"),
        ("/portal/deactivate/", b"Only a server admin"),
    ],
)
def test_portal_pages_open_with_a_session(client, server, page, shows):
    known_user(client, server)
    log_in(client, server)
    response = client.get(page)
    assert response.status_code == 200 and shows in response.content
    # The portal's header: the realm's name, its pages, a log-out.
    header = response.content.decode().split("<main")[0]
    assert '<li class="realm">Example Chat</li>' in header
    assert 'href="/portal/account/"' in header and 'action="/portal/logout/"' in header


def test_log_out_ends_the_portal_session(client, server):
    known_user(client, server)
    log_in(client, server)
    assert client.get("/portal/logout/").status_code == 405  # a POST from the header's button
    response = client.post("/portal/logout/")
    assert response.status_code == 200 and b"You are logged out" in response.content
    assert client.get("/portal/").status_code == 401
    assert client.get("/api/v1/remotes/session").status_code == 401


@pytest.mark.parametrize(
    ("next_page", "scheme", "entry"),
    [
        ("account", "https://", "https://chat.example.com/self-hosted-billing/?next_page=account"),
        (None, "http://", "http://chat.example.com/self-hosted-billing/?next_page=overview"),
    ],
)
def test_expired_portal_session_goes_back_to_the_servers_entry_point(
    client, server, clock, next_page, scheme, entry
):
    known_user(client, server)
    log_in(client, server, link_body(next_page=next_page, uri_scheme=scheme))
    clock.advance(seconds=7199)
    assert client.get("/portal/").status_code == 200
    clock.advance(seconds=2)
    response = client.get("/portal/account/")
    assert response.status_code == 302 and response["Location"] == entry
    # The session is over: the API says so, and the next page view is plain "not authenticated".
    assert client.get("/api/v1/remotes/session").status_code == 401
    assert client.get("/portal/").status_code == 401


def test_entry_point_follows_policy_and_the_realms_current_host(client, server, clock, policy):
    policy(remote={"entry_point_path": "/billing/start/", "portal_session_max_age": 60})
    known_user(client, server)
    log_in(client, server)
    renamed = link_body(realm={"uuid": link_body()["realm"]["uuid"], "host": "new.example.com"})
    login_path(client, server, renamed)  # the server reports the realm's new host
    clock.advance(seconds=61)
    response = client.get("/portal/")
    assert response["Location"] == "https://new.example.com/billing/start/?next_page=account"


def test_session_api_answers_401_once_the_portal_session_expired(client, server, clock):
    known_user(client, server)
    log_in(client, server)
    assert client.get("/api/v1/remotes/session").status_code == 200
    clock.advance(seconds=7201)
    response = client.get("/api/v1/remotes/session")
    assert response.status_code == 401 and response.json()["status"] == "error"


def test_portal_session_is_counted_from_the_log_in(client, server, clock, policy):
    policy(remote={"portal_session_max_age": 300, "login_token_max_age": 7200})
    known_user(client, server)
    path = login_path(client, server)
    clock.advance(seconds=3600)  # the link sat in the browser for an hour
    client.post(path, {"full_name": "Ada"})
    clock.advance(seconds=299)
    assert client.get("/portal/").status_code == 200
    clock.advance(seconds=2)
    assert client.get("/portal/").status_code == 302


def test_overview_lists_the_realms_users_and_recent_events(client, server):
    known_user(client, server)
    realm = RemoteRealm.objects.get()
    RemoteRealmUser.objects.create(
        realm=realm,
        user_uuid=uuid.uuid4(),
        email="bob@chat.example.com",
        full_name="Bob Builder",
        date_joined=timezone.now(),
    )
    # A user of another realm of the same server is not listed.
    elsewhere = link_body(
        realm={"uuid": str(uuid.uuid4()), "host": "other.chat.example.com", "name": "Other"},
        user={"uuid": str(uuid.uuid4()), "email": "eve@other.example.com", "full_name": "Eve"},
    )
    known_user(client, server, elsewhere, full_name="Eve Elsewhere")
    log_in(client, server)
    page = client.get("/portal/")
    assert page.status_code == 200
    assert b"Example Chat" in page.content
    assert b"Ada Admin" in page.content and b"bob@chat.example.com" in page.content
    assert b"Bob Builder" in page.content
    assert b"Eve Elsewhere" not in page.content
    assert b"remote.login_link" in page.content and b"remote.login<" in page.content
    assert b"last log-in" in page.content  # Ada's, just now


def test_overview_escapes_what_remote_servers_send(client, server):
    body = link_body(
        user={"uuid": link_body()["user"]["uuid"], "email": "a@example.com", "full_name": "x"},
        realm={"uuid": link_body()["realm"]["uuid"], "host": "chat.example.com",
               "name": "<script>alert(1)</script>"},
    )  # fmt: skip
    known_user(client, server, body, full_name="<b>bold</b>")
    client.post(login_path(client, server, body), {"full_name": "<i>Ada</i>"})
    page = client.get("/portal/").content
    assert b"<script>alert(1)" not in page and b"&lt;script&gt;" in page
    assert b"<i>Ada</i>" not in page and b"&lt;i&gt;Ada&lt;/i&gt;" in page


def test_operator_page_reads_the_identity_from_the_session_api(client, server, policy):
    policy(remote={"next_pages": {**DEFAULT_POLICY.remote.next_pages, "billing": "/billing/"}})
    known_user(client, server)
    done = log_in(client, server, link_body(next_page="billing"))
    assert done["Location"] == "/billing/"
    identity = client.get("/api/v1/remotes/session").json()
    assert identity["next_page"] == "billing" and identity["remote_server_uuid"] == server.uuid


def test_session_of_a_deleted_realm_shows_nothing_of_the_server(client, server):
    from admit.remote.models import RemoteServer, RemoteServerUser

    RemoteServerUser.objects.create(
        server=RemoteServer.objects.get(uuid=server.uuid),
        email="root@chat.example.com",
        email_key="root@chat.example.com",
        full_name="Root Admin",
        date_joined=timezone.now(),
    )
    known_user(client, server)
    log_in(client, server)
    RemoteRealm.objects.all().delete()  # the operator removed the realm in the admin
    page = client.get("/portal/")
    assert page.status_code == 401 and b"Not authenticated" in page.content
    assert b"root@chat.example.com" not in page.content and b"remote.login" not in page.content
    assert client.get("/api/v1/remotes/session").status_code == 401
