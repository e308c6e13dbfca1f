"""A remote server asks for a log-in link: POST /api/v1/remotes/server/login-link, as the
server sees it."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from admit.core.context import Caller
from admit.remote.flows.registry import add_server, set_deactivated
from admit.remote.models import RemoteRealm, RemoteServer
from tests.conftest import DEFAULT_POLICY
from tests.remote.conftest import (
    REALM_UUID,
    Server,
    audit_rows,
    known_user,
    link_body,
    log_in,
    login_path,
    request_link,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/remotes/server/login-link"


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error"
    assert body["sub_status"] and all(isinstance(code, str) for code in body["sub_status"])
    assert body["cid"] == response["X-Correlation-ID"]
    assert "login_url" not in body
    return body


def post_raw(client, body: dict | None = None, **headers):
    return client.post(
        URL,
        json.dumps(body if body is not None else link_body()),
        content_type="application/json",
        **headers,
    )


def test_valid_request_answers_a_login_url_and_is_audited(client, server):
    response = request_link(client, server)
    assert response.status_code == 200
    assert set(response.json()) == {"login_url"}
    assert response.json()["login_url"].startswith("http://admit.test/remote-login/")
    row = audit_rows("remote.login_link").get()
    assert row.outcome == "ok"
    assert str(row.remote_server_uuid) == server.uuid
    assert str(row.remote_realm_uuid) == REALM_UUID
    assert RemoteServer.objects.get(uuid=server.uuid).last_seen_at is not None


def test_two_links_for_the_same_user_differ(client, server):
    assert login_path(client, server) != login_path(client, server)


def test_unknown_server_is_401_and_audited_without_a_server_uuid(client, server):
    stranger = Server(str(uuid.uuid4()), server.key)
    body = assert_envelope(request_link(client, stranger), 401)
    assert body["sub_status"] == ["E005001"]
    row = audit_rows("remote.login_link").get()
    assert row.outcome == "error" and row.error_codes == "E005001"
    assert row.remote_server_uuid is None
    assert row.extra_data == {"refused": "unknown remote server"}
    assert not RemoteRealm.objects.exists()


def test_wrong_key_is_401_and_audited_with_the_server_uuid(client, server):
    assert_envelope(request_link(client, server, key=server.key + "x"), 401)
    row = audit_rows("remote.login_link").get()
    assert row.outcome == "error"
    assert str(row.remote_server_uuid) == server.uuid
    assert row.extra_data == {"refused": "wrong server key"}
    assert not RemoteRealm.objects.exists()


def test_another_servers_key_does_not_open_this_server(client, server):
    other = add_server("other.example.com", "ops@other.example.com", Caller())
    assert_envelope(request_link(client, server, key=other.key), 401)


def test_deactivated_server_is_401_and_audited_with_the_server_uuid(client, server):
    set_deactivated(server.uuid, True, Caller())
    assert_envelope(request_link(client, server), 401)
    row = audit_rows("remote.login_link").get()
    assert row.outcome == "error" and str(row.remote_server_uuid) == server.uuid
    assert row.extra_data == {"refused": "remote server is deactivated"}
    set_deactivated(server.uuid, False, Caller())
    assert request_link(client, server).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Bearer " + base64.b64encode(b"a:b").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"not-a-uuid:zsrvkey").decode(),
    ],
    ids=["missing", "empty", "no-credentials", "not-base64", "no-colon", "bearer", "not-utf8",
         "not-a-uuid"],
)  # fmt: skip
def test_missing_or_malformed_authorization_is_401_and_audited(client, server, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    body = assert_envelope(post_raw(client, **headers), 401)
    assert body["sub_status"] == ["E005001"]
    row = audit_rows("remote.login_link").get()
    assert row.outcome == "error" and row.remote_server_uuid is None
    assert row.extra_data["refused"] in ("no server credentials", "unknown remote server")
    assert not RemoteRealm.objects.exists()


def test_realm_is_registered_on_the_fly_and_updated_later(client, server):
    login_path(client, server)
    realm = RemoteRealm.objects.get()
    assert (str(realm.uuid), realm.host, realm.name, realm.org_type) == (
        REALM_UUID,
        "chat.example.com",
        "Example Chat",
        10,
    )
    assert str(realm.server.uuid) == server.uuid
    renamed = link_body(
        realm={"uuid": REALM_UUID, "host": "talk.example.com", "name": "Talk", "org_type": 20}
    )
    login_path(client, server, renamed)
    realm = RemoteRealm.objects.get()
    assert (realm.host, realm.name, realm.org_type) == ("talk.example.com", "Talk", 20)


def test_realm_of_another_server_is_403_and_issues_no_link(client, server):
    login_path(client, server)
    made = add_server("other.example.com", "ops@other.example.com", Caller())
    other = Server(str(made.server.uuid), made.key)
    body = link_body(realm={"uuid": REALM_UUID, "host": "evil.example.com", "name": "Mine"})
    assert_envelope(request_link(client, other, body), 403)
    realm = RemoteRealm.objects.get()
    assert str(realm.server.uuid) == server.uuid and realm.host == "chat.example.com"
    row = audit_rows("remote.login_link").last()
    assert row.outcome == "error" and str(row.remote_server_uuid) == str(made.server.uuid)


@pytest.mark.parametrize("next_page", ["invoices", "https://evil.example.com/", "/portal/", ""])
def test_next_page_outside_the_allow_list_is_400_and_no_link(client, server, next_page):
    body = assert_envelope(request_link(client, server, link_body(next_page=next_page)), 400)
    assert "E008002" in body["sub_status"]
    assert audit_rows("remote.login_link").get().outcome == "error"
    assert not RemoteRealm.objects.exists()


@pytest.mark.parametrize("next_page", [None, "overview", "account", "deactivate"])
def test_built_in_next_pages_are_accepted(client, server, next_page):
    assert request_link(client, server, link_body(next_page=next_page)).status_code == 200


def test_missing_next_page_is_accepted(client, server):
    body = link_body()
    del body["next_page"]
    assert request_link(client, server, body).status_code == 200


def test_operator_next_page_is_accepted_and_the_log_in_lands_there(client, server, policy):
    assert request_link(client, server, link_body(next_page="invoices")).status_code == 400
    # Zulip's "billing" shows the overview until the operator maps it to an app of their own.
    pages = {**DEFAULT_POLICY.remote.next_pages, "invoices": "/invoices/", "billing": "/billing/"}
    policy(remote={"next_pages": pages})
    known_user(client, server)
    done = log_in(client, server, link_body(next_page="invoices"))
    assert done.status_code == 302 and done["Location"] == "/invoices/"
    assert client.get("/api/v1/remotes/session").json()["next_page"] == "invoices"
    done = log_in(client, server, link_body(next_page="billing"))
    assert done.status_code == 302 and done["Location"] == "/billing/"


def without(body: dict, *path: str) -> dict:
    body = json.loads(json.dumps(body))
    target = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


@pytest.mark.parametrize(
    "body",
    [
        link_body(user={"uuid": "not-a-uuid", "email": "a@example.com", "full_name": "A"}),
        link_body(realm={"uuid": "1234", "host": "chat.example.com"}),
        without(link_body(), "user"),
        without(link_body(), "realm"),
        without(link_body(), "user", "uuid"),
        without(link_body(), "user", "email"),
        without(link_body(), "realm", "host"),
        link_body(realm={"uuid": REALM_UUID, "host": "evil.com/x"}),
        link_body(realm={"uuid": REALM_UUID, "host": "https://x"}),
        link_body(realm={"uuid": REALM_UUID, "host": "x@evil.com"}),
        link_body(realm={"uuid": REALM_UUID, "host": "evil.com?x"}),
        link_body(realm={"uuid": REALM_UUID, "host": ""}),
        link_body(realm={"uuid": REALM_UUID, "host": "chat.example.com", "org_type": "10"}),
        link_body(uri_scheme="javascript:"),
        link_body(uri_scheme="ftp://"),
        link_body(next_page=7),
        link_body(user="admin"),
    ],
    ids=["bad-user-uuid", "bad-realm-uuid", "no-user", "no-realm", "no-user-uuid", "no-email",
         "no-host", "host-with-path", "host-with-scheme", "host-with-userinfo", "host-with-query",
         "empty-host", "org-type-string", "scheme-javascript", "scheme-ftp", "next-page-number",
         "user-not-object"],
)  # fmt: skip
def test_malformed_body_is_400_and_registers_nothing(client, server, body):
    answer = assert_envelope(request_link(client, server, body), 400)
    assert set(answer["sub_status"]) <= {"E008002", "E008003"}
    assert answer["details"]
    assert not RemoteRealm.objects.exists()


def test_body_that_is_not_json_is_400(client, server):
    response = client.post(URL, b"{not json", content_type="application/json", **server.headers())
    assert_envelope(response, 400)


def test_rate_limit_per_server_is_429_with_retry_after(client, server, policy, clock):
    policy(remote={"link_requests_per_server": (2, 60)})
    assert request_link(client, server).status_code == 200
    assert request_link(client, server).status_code == 200
    refused = request_link(client, server)
    assert_envelope(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert audit_rows("remote.login_link").last().outcome == "error"
    # Another server is counted apart.
    made = add_server("other.example.com", "ops@other.example.com", Caller())
    other = Server(str(made.server.uuid), made.key)
    other_body = link_body(realm={"uuid": str(uuid.uuid4()), "host": "other.example.com"})
    assert request_link(client, other, other_body).status_code == 200


def test_rate_limit_window_ends(client, server, policy, clock):
    policy(remote={"link_requests_per_server": (1, 60)})
    assert request_link(client, server).status_code == 200
    refused = request_link(client, server)
    assert refused.status_code == 429
    clock.advance(seconds=int(refused["Retry-After"]) + 1)
    assert request_link(client, server).status_code == 200


def test_login_link_is_in_the_openapi_document(client):
    document = client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/v1/remotes/server/login-link"]["post"]
    assert {"200", "400", "401", "403", "429"} <= set(operation["responses"])


def test_deactivated_realm_gets_no_link(client, server):
    login_path(client, server)
    RemoteRealm.objects.update(deactivated=True)
    assert_envelope(request_link(client, server), 403)


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_a_link_request_lands_whole(client, server):
    """As in the service, where a link request's writes go to the database as one batch."""
    login_path(client, server)
    row = audit_rows("remote.login_link").get()
    assert (row.outcome, str(row.remote_realm_uuid)) == ("ok", REALM_UUID)
    assert RemoteRealm.objects.get().host == "chat.example.com"
    assert RemoteServer.objects.get(uuid=server.uuid).last_request_at is not None
    made = add_server("other.example.com", "ops@other.example.com", Caller())
    other = Server(str(made.server.uuid), made.key)
    assert_envelope(request_link(client, other), 403)
    refused = audit_rows("remote.login_link").last()
    assert refused.outcome == "error" and str(refused.remote_server_uuid) == str(made.server.uuid)
    assert RemoteServer.objects.get(uuid=made.server.uuid).last_request_at is None


def test_missing_and_invalid_fields_are_named_in_the_envelope(client, server):
    body = without(link_body(realm={"uuid": "1234", "host": "chat.example.com"}), "user")
    answer = assert_envelope(request_link(client, server, body), 400)
    assert sorted(answer["sub_status"]) == ["E008002", "E008003"]
    assert {detail["field"] for detail in answer["details"]} == {"user", "realm.uuid"}
