"""An unmodified Zulip server's calls, as ``tests/remote/zulip_double.py`` makes them after
Zulip's code: registration (``manage.py register_server``, with and without a key rotation),
the realms in the analytics upload, the billing link for a realm admin, then the person's
first walk through e-mail and confirm-login to the page the server asked for; the refusals in
Zulip's shape; deactivation. Over real HTTP: ``test_zulip_server_over_http``."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from urllib.parse import parse_qsl

import pytest
import requests
from requests.auth import HTTPBasicAuth

from admit.audit.models import AuditEvent
from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.remote.flows.registry import add_server
from admit.remote.models import RemoteRealm, RemoteRealmUser, RemoteServer
from tests.live.conftest import ADMIT
from tests.remote.zulip_double import (
    CommandError,
    DjangoTransport,
    JsonableError,
    Realm,
    RemoteRealmServerMismatchError,
    ZulipServer,
    session_over,
)

pytestmark = pytest.mark.django_db

ADMIN = {"uuid": str(uuid.uuid4()), "email": "iago@chat.example.org", "full_name": "Iago Admin"}


def a_key() -> str:
    """What Zulip's installer puts in zulip-secrets.conf: 64 random characters."""
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:64]


@pytest.fixture
def zulip(client) -> ZulipServer:
    """A Zulip server with two realms (and its system-bot realm), not yet known to admit."""
    return ZulipServer(
        services_url="http://admit.test",
        org_id=str(uuid.uuid4()),
        org_key=a_key(),
        hostname="chat.example.org",
        realms=[
            Realm(1, "zulipinternal.chat.example.org", "System bots", is_system_bot_realm=True),
            Realm(2, "chat.example.org", "Example Org"),
            Realm(3, "other.chat.example.org", "Other Org", org_type=30),
        ],
        transport=DjangoTransport(client),
    )


@pytest.fixture
def added(zulip) -> ZulipServer:
    """The operator added the server with the id and key it already has."""
    add_server(
        "chat.example.org", "ops@example.org", Caller(), server_uuid=zulip.org_id, key=zulip.org_key
    )
    return zulip


def raw(zulip: ZulipServer, method: str, endpoint: str, data=None, key: str | None = None):
    """One call as send_to_push_bouncer makes it, its answer unread (a requests.Response)."""
    return session_over(zulip.transport).request(
        method,
        zulip.services_url + "/api/v1/remotes/" + endpoint,
        data=data or {},
        auth=HTTPBasicAuth(zulip.org_id, key or zulip.org_key),
        headers={"User-agent": f"ZulipServer/{zulip.version}"},
    )


def assert_zulip_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["result"] == "error" and body["code"] == code, body
    assert isinstance(body["msg"], str) and body["msg"]
    return body


def test_a_zulip_server_registers_uploads_its_realms_and_logs_an_admin_in(client, added):
    zulip = added
    # manage.py register_server: the operator added it, so this updates it.
    assert zulip.register_server("admins@chat.example.org") == {
        "result": "success",
        "msg": "",
        "created": False,
    }
    server = RemoteServer.objects.get(uuid=zulip.org_id)
    assert server.contact_email == "admins@chat.example.org"

    # The analytics upload: admit keeps the realms with people, answers can_push false.
    zulip.realm_count_ids = [5, 6, 9]
    zulip.realmauditlog_ids = [40, 41]
    answer = zulip.send_server_data_to_push_bouncer()
    people = {zulip.realms[1].uuid, zulip.realms[2].uuid}
    assert set(answer["realms"]) == people
    assert zulip.push_notifications_enabled == {realm_uuid: False for realm_uuid in people}
    assert {str(realm.uuid) for realm in RemoteRealm.objects.all()} == people
    assert RemoteRealm.objects.get(uuid=zulip.realms[2].uuid).org_type == 30
    server.refresh_from_db()
    assert (server.last_version, server.last_api_feature_level) == ("10.1", 359)

    # The admin clicks "Plans and billing": the server asks for the link.
    url = zulip.billing_access_url(zulip.realms[1], ADMIN, next_page="billing")
    assert url.startswith("http://admit.test/remote-login/")
    sent = zulip.transport.sent[-1]
    assert sent.headers["User-agent"] == "ZulipServer/10.1"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Authorization"].startswith("Basic ")

    # The person's first walk: e-mail, confirmation link, confirm-login, Terms, the page.
    path = url.removeprefix("http://admit.test")
    form = client.get(path)
    assert form.status_code == 200 and b'value="iago@chat.example.org"' in form.content
    assert b"Check your e-mail" in client.post(path, {"email": ADMIN["email"]}).content
    mail = OutgoingEmail.objects.filter(template="remote_confirm").latest("id")
    assert mail.to == ADMIN["email"]
    link = re.search(r"http://admit\.test(/remote-login/confirm/\S+/)", mail.body_text).group(1)
    landed = client.post(link)
    confirm = landed["Location"].removeprefix("http://admit.test")
    page = client.get(confirm)
    assert b"Confirm login" in page.content and b"Iago Admin" in page.content
    done = client.post(confirm, {"full_name": "Iago Admin", "tos_consent": "on"})
    assert done.status_code == 302 and done["Location"] == "/portal/"
    portal = client.get("/portal/")
    assert portal.status_code == 200
    assert "You asked for the “billing” page" in portal.content.decode()
    assert b"Example Org" in portal.content
    user = RemoteRealmUser.objects.get()
    assert (str(user.user_uuid), user.email, str(user.realm.uuid)) == (
        ADMIN["uuid"],
        ADMIN["email"],
        zulip.realms[1].uuid,
    )

    # The next upload sends only the rows admit has not seen.
    zulip.realm_count_ids = [5, 6, 9, 12]
    zulip.send_server_data_to_push_bouncer()
    body = zulip.transport.sent[-1].body
    uploaded = dict(parse_qsl(body if isinstance(body, str) else body.decode()))
    assert [row["id"] for row in json.loads(uploaded["realm_counts"])] == [12]
    assert json.loads(uploaded["realmauditlog_rows"]) == []


@pytest.mark.parametrize(
    "next_page", ["billing", "plans", "upgrade", "sponsorship", "deactivate", None]
)
def test_every_next_page_zulip_sends_has_a_page(client, added, next_page):
    url = added.billing_access_url(added.realms[1], ADMIN, next_page=next_page)
    assert url.startswith("http://admit.test/remote-login/")


def test_an_unknown_next_page_is_refused_before_any_link(added):
    response = raw(
        added,
        "POST",
        "server/billing",
        {
            "user": json.dumps(ADMIN),
            "realm": json.dumps(added.realms[1].info()),
            "uri_scheme": "https://",
            "next_page": "https://evil.example/",
        },
    )
    body = assert_zulip_error(response, 400, "BAD_REQUEST")
    assert "next_page" in body["msg"]
    assert not RemoteRealm.objects.exists()
    assert AuditEvent.objects.filter(event="remote.login_link", outcome="error").count() == 1


def test_self_registration_is_off_unless_the_operator_allows_it(zulip, policy):
    with pytest.raises(CommandError, match="ask them to run `admit remote-servers add`"):
        zulip.register_server("admins@chat.example.org")
    assert not RemoteServer.objects.exists()

    policy(remote={"allow_self_registration": True})
    assert zulip.register_server("admins@chat.example.org")["created"] is True
    assert zulip.register_server("admins@chat.example.org")["created"] is False
    server = RemoteServer.objects.get()
    assert (str(server.uuid), server.hostname) == (zulip.org_id, "chat.example.org")
    assert zulip.org_key not in server.key_digest  # stored as a digest
    events = AuditEvent.objects.filter(event="remote.server.self_register").order_by("id")
    assert [event.outcome for event in events] == ["error", "ok", "ok"]


def test_a_zulip_8_server_registers_with_a_query_string(zulip, policy):
    policy(remote={"allow_self_registration": True})
    assert zulip.register_server("admins@chat.example.org", as_query=True)["created"] is True


def test_a_known_id_with_another_key_is_invalid_zulip_server(added):
    impostor = ZulipServer(
        added.services_url, added.org_id, a_key(), "evil.example", [], transport=added.transport
    )
    with pytest.raises(CommandError, match="key does not match role " + added.org_id):
        impostor.register_server("evil@example.org")
    response = impostor.transport.client.post(  # type: ignore[union-attr]
        "/api/v1/remotes/server/register",
        {
            "zulip_org_id": added.org_id,
            "zulip_org_key": impostor.org_key,
            "hostname": "evil.example",
            "contact_email": "evil@example.org",
        },
    )
    assert assert_zulip_error(response, 400, "INVALID_ZULIP_SERVER")["role"] == added.org_id
    assert RemoteServer.objects.get().hostname == "chat.example.org"


def test_the_key_rotates_with_new_org_key(added):
    old_key = added.org_key
    new_key = a_key()
    added.register_server("admins@chat.example.org", rotate_key=new_key)
    assert added.org_key == new_key
    assert added.billing_access_url(added.realms[1], ADMIN).startswith("http://admit.test/")
    assert_zulip_error(
        raw(added, "GET", "server/analytics/status", key=old_key), 401, "UNAUTHORIZED"
    )


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("zulip_org_id", "not-a-uuid", "zulip_org_id"),
        ("zulip_org_id", "0DCF427D-56C6-448E-81FB-C1CFD7AC664E", "zulip_org_id"),  # not canonical
        ("zulip_org_key", "short", "zulip_org_key"),
        ("hostname", "chat.example.org/evil", "hostname"),
        ("contact_email", "not an address", "contact_email"),
        ("new_org_key", "x" * 63, "new_org_key"),
        ("hostname", "", "Missing 'hostname' argument"),
    ],
)
def test_registration_refuses_bad_fields_in_zulips_shape(
    client, zulip, policy, field, value, problem
):
    policy(remote={"allow_self_registration": True})
    form = {
        "zulip_org_id": zulip.org_id,
        "zulip_org_key": zulip.org_key,
        "hostname": zulip.hostname,
        "contact_email": "admins@chat.example.org",
        field: value,
    }
    body = assert_zulip_error(
        client.post("/api/v1/remotes/server/register", form), 400, "BAD_REQUEST"
    )
    assert problem in body["msg"]
    assert not RemoteServer.objects.exists()


def test_unknown_wrong_key_and_deactivated_servers_get_one_answer(added):
    stranger = ZulipServer(
        added.services_url, str(uuid.uuid4()), a_key(), "x.example", [], transport=added.transport
    )
    answers = [
        raw(stranger, "GET", "server/analytics/status"),
        raw(added, "GET", "server/analytics/status", key=a_key()),
    ]
    added.deactivate_registration()
    answers.append(raw(added, "GET", "server/analytics/status"))
    bodies = [assert_zulip_error(response, 401, "UNAUTHORIZED") for response in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert all(
        response.headers["WWW-Authenticate"] == 'Basic realm="zulip"' for response in answers
    )
    # A deactivated server gets no link and cannot register again.
    with pytest.raises(JsonableError, match="auth failure"):
        added.billing_access_url(added.realms[1], ADMIN)
    with pytest.raises(CommandError, match="auth failure"):
        added.register_server("admins@chat.example.org")
    assert RemoteServer.objects.get().deactivated


def test_a_realm_the_server_stopped_reporting_comes_back_through_an_upload(added):
    added.send_server_data_to_push_bouncer()
    gone = added.realms.pop()
    added.send_server_data_to_push_bouncer()
    assert RemoteRealm.objects.get(uuid=gone.uuid).locally_deleted
    direct = raw(
        added,
        "POST",
        "server/billing",
        {"user": json.dumps(ADMIN), "realm": json.dumps(gone.info())},
    )
    assert_zulip_error(direct, 403, "MISSING_REMOTE_REALM")
    # Zulip's answer to MISSING_REMOTE_REALM: upload the realms, then ask again.
    added.realms.append(gone)
    assert added.billing_access_url(gone, ADMIN).startswith("http://admit.test/remote-login/")
    assert not RemoteRealm.objects.get(uuid=gone.uuid).locally_deleted


def test_a_realm_of_another_server_is_a_mismatch(added, client):
    other = add_server("other.example", "ops@other.example", Caller())
    RemoteRealm.objects.create(
        server=other.server,
        uuid=added.realms[1].uuid,
        host="other.example",
        registered_at=other.server.registered_at,
        updated_at=other.server.registered_at,
    )
    with pytest.raises(RemoteRealmServerMismatchError):
        added.billing_access_url(added.realms[1], ADMIN)
    with pytest.raises(JsonableError, match="another server"):
        added.send_server_data_to_push_bouncer()
    assert RemoteRealm.objects.filter(server__uuid=added.org_id).count() == 0  # nothing written


def test_a_realm_seen_first_in_a_billing_request_is_registered(added):
    url = added.billing_access_url(added.realms[2], ADMIN, next_page="plans")
    assert url.startswith("http://admit.test/remote-login/")
    realm = RemoteRealm.objects.get()
    assert (str(realm.uuid), realm.host, realm.name) == (
        added.realms[2].uuid,
        "other.chat.example.org",
        "Other Org",
    )


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"user": "{not json"}, "user"),
        ({"user": json.dumps({**ADMIN, "uuid": "nope"})}, "user"),
        ({"realm": json.dumps({"uuid": str(uuid.uuid4()), "host": "a b"})}, "realm"),
        (
            {
                "realm": json.dumps(
                    {"uuid": str(uuid.uuid4()), "host": "h.example", "name": "a\x00b"}
                )
            },
            "realm",
        ),
        (
            {
                "realm": json.dumps(
                    {"uuid": str(uuid.uuid4()), "host": "h.example", "org_type": True}
                )
            },
            "realm",
        ),
        ({"user": ""}, "Missing 'user' argument"),
        ({"uri_scheme": "ftp://"}, "uri_scheme"),
    ],
)
def test_a_malformed_billing_request_is_refused_and_writes_nothing(added, change, problem):
    form = {"user": json.dumps(ADMIN), "realm": json.dumps(added.realms[1].info()), **change}
    body = assert_zulip_error(raw(added, "POST", "server/billing", form), 400, "BAD_REQUEST")
    assert problem in body["msg"]
    assert not RemoteRealm.objects.exists()


def test_analytics_out_of_order_is_refused(added):
    added.realm_count_ids = [7]
    added.send_server_data_to_push_bouncer()
    response = raw(
        added,
        "POST",
        "server/analytics",
        {
            "realm_counts": json.dumps([{"id": 3, "property": "x", "realm": 2}]),
            "installation_counts": "[]",
        },
    )
    assert "out of order" in assert_zulip_error(response, 400, "BAD_REQUEST")["msg"]
    assert RemoteServer.objects.get().last_realm_count_id == 7


def test_refusals_before_the_view_are_in_zulips_shape(added, client, settings):
    assert_zulip_error(client.get("/api/v1/remotes/server/billing"), 405, "BAD_REQUEST")
    huge = client.generic(
        "POST",
        "/api/v1/remotes/server/billing",
        b"user=" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert_zulip_error(huge, 413, "BAD_REQUEST")


def test_unknown_fields_are_named_not_refused(added):
    response = raw(added, "GET", "server/analytics/status")
    assert response.json()["result"] == "success"
    answer = raw(
        added,
        "POST",
        "server/billing",
        {
            "user": json.dumps(ADMIN),
            "realm": json.dumps(added.realms[1].info()),
            "from_a_newer_zulip": "1",
        },
    )
    assert answer.status_code == 200
    assert answer.json()["ignored_parameters_unsupported"] == ["from_a_newer_zulip"]


def test_registrations_are_rate_limited_per_address(zulip, policy):
    policy(remote={"allow_self_registration": True, "registrations_per_address": (2, 3600)})
    zulip.register_server("admins@chat.example.org")
    zulip.register_server("admins@chat.example.org")
    with pytest.raises(CommandError, match="rate limit"):
        zulip.register_server("admins@chat.example.org")


def test_admits_own_json_registration_shares_the_path(client, added):
    from tests.remote.conftest import Server

    server = Server(added.org_id, added.org_key)
    response = client.post(
        "/api/v1/remotes/server/register",
        json.dumps(
            {
                "version": "9.1",
                "realms": [{"uuid": added.realms[1].uuid, "host": "chat.example.org"}],
            }
        ),
        content_type="application/json",
        **server.headers(),
    )
    assert response.status_code == 200 and response.json() == {"status": "ok", "realms": 1}


def test_zulip_server_over_http(live_admit):
    """The same calls over the network, as a Zulip server makes them, to a real admit serve:
    the operator adds the server from the command line with its own id and key."""
    zulip = ZulipServer(
        services_url=live_admit.url,
        org_id=str(uuid.uuid4()),
        org_key=a_key(),
        hostname="chat.example.org",
        realms=[Realm(2, "chat.example.org", "Example Org")],
    )
    added = subprocess.run(
        [
            *ADMIT,
            "remote-servers",
            "add",
            "--hostname",
            "chat.example.org",
            "--contact-email",
            "ops@example.org",
            "--uuid",
            zulip.org_id,
            "--key-stdin",
            "--json",
        ],
        input=zulip.org_key + "\n",
        env=live_admit.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"uuid": zulip.org_id}
    assert zulip.org_key not in added.stdout
    assert zulip.register_server("admins@chat.example.org")["created"] is False
    assert set(zulip.send_server_data_to_push_bouncer()["realms"]) == {zulip.realms[0].uuid}
    url = zulip.billing_access_url(zulip.realms[0], ADMIN, next_page="billing")
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "iago@chat.example.org" in page.text
    zulip.deactivate_registration()
    with pytest.raises(JsonableError):
        zulip.billing_access_url(zulip.realms[0], ADMIN)


def test_push_notification_calls_are_refused_in_a_shape_zulip_reads(added):
    response = raw(added, "POST", "push/register", {"user_uuid": ADMIN["uuid"], "token": "x"})
    assert (
        "does not relay push notifications"
        in assert_zulip_error(response, 404, "BAD_REQUEST")["msg"]
    )
    with pytest.raises(JsonableError, match="does not relay push notifications"):
        added.send_to_push_bouncer("POST", "push/notify", {"user_uuid": ADMIN["uuid"]})


def test_the_operator_cannot_add_a_weak_key_or_the_same_id_twice(added):
    from admit.core.errors import InputError

    with pytest.raises(InputError, match="32 to 255 printable"):
        add_server(
            "x.example", "ops@x.example", Caller(), server_uuid=str(uuid.uuid4()), key="short"
        )
    with pytest.raises(InputError, match="already registered"):
        add_server("x.example", "ops@x.example", Caller(), server_uuid=added.org_id, key=a_key())
    assert RemoteServer.objects.count() == 1


def test_credentials_are_checked_before_the_form(added):
    """As Zulip's bouncer: a stranger learns nothing about the form, only that it is refused."""
    stranger = ZulipServer(
        added.services_url, str(uuid.uuid4()), a_key(), "x.example", [], transport=added.transport
    )
    for endpoint in ("server/billing", "server/analytics"):
        response = raw(stranger, "POST", endpoint, {"user": "0", "realm": "{", "realms": ""})
        assert_zulip_error(response, 401, "UNAUTHORIZED")
        assert_zulip_error(raw(added, "POST", endpoint, {"user": "0"}), 400, "BAD_REQUEST")
    refused = AuditEvent.objects.filter(event="remote.server.analytics", outcome="error")
    assert refused.count() == 2
