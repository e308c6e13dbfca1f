"""The server-level log-in at /serverlogin/, and deactivating the server."""

from __future__ import annotations

import uuid

import pytest

from admit.audit.models import AuditEvent
from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.remote.flows.registry import set_deactivated
from admit.remote.models import Preregistration, RemoteServer, RemoteServerUser
from tests.remote.conftest import (
    confirmation_path,
    known_user,
    link_body,
    log_in,
    login_path,
    request_link,
)

pytestmark = pytest.mark.django_db

ADMIN = "root@chat.example.com"


def server_admin_session(client, server, next_page: str = "", email: str = ADMIN):
    """The whole server-level flow; returns the last response (the confirm-login POST)."""
    form = {"server_uuid": server.uuid, "server_key": server.key}
    if next_page:
        form["next_page"] = next_page
    link = client.post("/serverlogin/", form)
    assert link.status_code == 302, link.content
    path = link["Location"].removeprefix("http://admit.test")
    assert client.post(path, {"email": email}).status_code == 200
    landed = client.post(confirmation_path())
    confirm = landed["Location"].removeprefix("http://admit.test")
    return client.post(confirm, {"full_name": "Root Admin", "tos_consent": "on"})


def test_form_asks_for_the_servers_uuid_and_key(client):
    page = client.get("/serverlogin/?next_page=deactivate")
    assert page.status_code == 200
    assert b'name="server_uuid"' in page.content and b'name="server_key"' in page.content
    assert b'type="password"' in page.content
    assert b'name="next_page" value="deactivate"' in page.content


@pytest.mark.parametrize("wrong", ["key", "uuid", "both-empty", "malformed-uuid"])
def test_wrong_credentials_are_401_and_nothing_else(client, server, wrong):
    form = {
        "key": {"server_uuid": server.uuid, "server_key": server.key + "x"},
        "uuid": {"server_uuid": str(uuid.uuid4()), "server_key": server.key},
        "both-empty": {"server_uuid": "", "server_key": ""},
        "malformed-uuid": {"server_uuid": "not-a-uuid", "server_key": server.key},
    }[wrong]
    response = client.post("/serverlogin/", form)
    assert response.status_code == 401 and "Location" not in response
    assert b"not valid" in response.content
    assert server.key.encode() not in response.content  # the key is not echoed back
    assert not Preregistration.objects.exists() and not OutgoingEmail.objects.exists()
    assert client.get("/api/v1/remotes/session").status_code == 401
    row = AuditEvent.objects.get(event="remote.server_login")
    assert row.outcome == "error"
    expected = server.uuid if wrong == "key" else "None"
    assert str(row.remote_server_uuid) == expected


def test_deactivated_server_cannot_log_in(client, server):
    set_deactivated(server.uuid, True, Caller())
    form = {"server_uuid": server.uuid, "server_key": server.key}
    assert client.post("/serverlogin/", form).status_code == 401


def test_next_page_outside_the_allow_list_is_400(client, server):
    form = {"server_uuid": server.uuid, "server_key": server.key, "next_page": "//evil.com"}
    response = client.post("/serverlogin/", form)
    assert response.status_code == 400 and "Location" not in response


def test_right_credentials_lead_to_a_blank_email_form(client, server):
    link = client.post("/serverlogin/", {"server_uuid": server.uuid, "server_key": server.key})
    assert link.status_code == 302
    assert link["Location"].startswith("http://admit.test/remote-login/")
    page = client.get(link["Location"].removeprefix("http://admit.test"))
    assert page.status_code == 200 and b"Enter your e-mail address." in page.content
    assert b'name="email" type="email" value=""' in page.content
    assert AuditEvent.objects.get(event="remote.server_login").outcome == "ok"


def test_whole_server_level_flow_creates_a_server_user_and_a_session(client, server):
    done = server_admin_session(client, server)
    assert done.status_code == 302 and done["Location"] == "/portal/"
    user = RemoteServerUser.objects.get()
    assert (str(user.server.uuid), user.email, user.full_name, user.tos_version) == (
        server.uuid,
        ADMIN,
        "Root Admin",
        "1.0",
    )
    assert Preregistration.objects.get().created_server_user == user
    identity = client.get("/api/v1/remotes/session").json()
    assert identity["user"] == {"uuid": None, "email": ADMIN, "full_name": "Root Admin"}
    assert identity["remote_server_uuid"] == server.uuid
    assert identity["remote_realm_uuid"] is None
    overview = client.get("/portal/")
    assert overview.status_code == 200 and b"chat.example.com" in overview.content
    assert b"root@chat.example.com" in overview.content
    assert b'href="/portal/deactivate/"' in overview.content  # the header links it


def test_second_server_level_log_in_reuses_the_server_user(client, server):
    server_admin_session(client, server)
    second = type(client)()
    done = server_admin_session(second, server, email=ADMIN.upper())
    assert done.status_code == 302
    assert RemoteServerUser.objects.count() == 1


def test_server_admin_deactivates_the_server(client, server):
    assert request_link(client, server).status_code == 200
    done = server_admin_session(client, server, next_page="deactivate")
    assert done["Location"] == "/portal/deactivate/"
    page = client.get("/portal/deactivate/")
    assert b"Deactivate the server" in page.content
    assert not RemoteServer.objects.get(uuid=server.uuid).deactivated  # a GET changes nothing
    result = client.post("/portal/deactivate/")
    assert result.status_code == 200 and b"Done" in result.content
    assert RemoteServer.objects.get(uuid=server.uuid).deactivated
    row = AuditEvent.objects.get(event="remote.server.deactivate")
    assert row.outcome == "ok" and row.extra_data == {"by": ADMIN}
    refused = request_link(client, server)
    assert refused.status_code == 401 and refused.json()["status"] == "error"


def test_realm_level_session_cannot_deactivate(client, server):
    known_user(client, server)
    log_in(client, server, link_body(next_page="deactivate"))
    page = client.get("/portal/deactivate/")
    assert (
        b"Only a server admin" in page.content
        and b"Deactivate the server</button>" not in page.content
    )
    client.post("/portal/deactivate/")
    assert not RemoteServer.objects.get(uuid=server.uuid).deactivated
    assert not AuditEvent.objects.filter(event="remote.server.deactivate").exists()
    assert request_link(client, server).status_code == 200


def test_expired_server_level_session_goes_back_to_server_login(client, server, clock):
    server_admin_session(client, server, next_page="deactivate")
    clock.advance(seconds=7201)
    response = client.get("/portal/deactivate/")
    assert response.status_code == 302
    assert response["Location"] == "/serverlogin/?next_page=deactivate"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("what", ["server", "realm"])
def test_link_issued_before_deactivation_logs_no_one_in(client, server, what):
    from admit.remote.models import RemoteRealm, RemoteRealmUser

    known_user(client, server)
    path = login_path(client, server)
    if what == "server":
        set_deactivated(server.uuid, True, Caller())
    else:
        RemoteRealm.objects.update(deactivated=True)
    for method in ("get", "post"):
        response = getattr(client, method)(path, {"full_name": "Ada", "tos_consent": "on"})
        assert response.status_code == 403 and b"deactivated" in response.content
    assert RemoteRealmUser.objects.get().last_login is None
    assert client.get("/api/v1/remotes/session").status_code == 401
