"""``admit remote-servers add|list|show|rotate-key|deactivate|reactivate``, run through
``admit.cli.main`` in the test process (so it sees the test database)."""

from __future__ import annotations

import json

import pytest

from admit.audit.models import AuditEvent
from admit.cli import main
from admit.core.secrets import digest
from admit.remote.models import RemoteServer
from tests.remote.conftest import Server, request_link

pytestmark = pytest.mark.django_db


def admit(capsys, *args: str) -> str:
    capsys.readouterr()
    main(["remote-servers", *args])
    return capsys.readouterr().out


def admit_json(capsys, *args: str):
    return json.loads(admit(capsys, *args, "--json"))


def added(capsys, hostname: str = "chat.example.com") -> Server:
    made = admit_json(capsys, "add", "--hostname", hostname, "--contact-email", "ops@example.com")
    assert set(made) == {"uuid", "key"}
    return Server(made["uuid"], made["key"])


def test_add_json_prints_a_uuid_and_a_key_that_works(client, capsys):
    server = added(capsys)
    row = RemoteServer.objects.get(uuid=server.uuid)
    assert (row.hostname, row.contact_email, row.deactivated) == (
        "chat.example.com",
        "ops@example.com",
        False,
    )
    assert server.key.startswith("zsrv") and server.key not in row.key_digest
    assert row.key_digest == digest(server.key)  # stored hashed
    assert request_link(client, server).status_code == 200
    assert AuditEvent.objects.get(event="remote.server.register").outcome == "ok"


def test_add_without_json_shows_the_key_once(capsys):
    out = admit(capsys, "add", "--hostname", "h.example.com", "--contact-email", "e@example.com")
    row = RemoteServer.objects.get()
    assert str(row.uuid) in out and "key:  zsrv" in out and "shown only now" in out


def test_list_and_show_json(client, capsys):
    first, second = added(capsys, "one.example.com"), added(capsys, "two.example.com")
    listed = admit_json(capsys, "list")
    assert [row["uuid"] for row in listed] == [first.uuid, second.uuid]
    assert [row["hostname"] for row in listed] == ["one.example.com", "two.example.com"]
    assert all("key" not in row and "key_digest" not in row for row in listed)
    assert listed[0]["realms"] == 0 and listed[0]["last_seen_at"] is None
    request_link(client, first)
    shown = admit_json(capsys, "show", first.uuid)
    assert shown["uuid"] == first.uuid and shown["contact_email"] == "ops@example.com"
    assert shown["realms"] == 1 and shown["last_seen_at"] is not None
    assert shown["deactivated"] is False
    assert first.key not in json.dumps(shown)


def test_list_without_servers_prints_nothing(capsys):
    assert admit(capsys, "list") == ""
    assert admit_json(capsys, "list") == []


def test_rotate_key_invalidates_the_old_key(client, capsys):
    server = added(capsys)
    rotated = admit_json(capsys, "rotate-key", server.uuid)
    assert rotated["uuid"] == server.uuid and rotated["key"] != server.key
    assert request_link(client, server).status_code == 401
    assert request_link(client, Server(server.uuid, rotated["key"])).status_code == 200
    row = AuditEvent.objects.get(event="remote.server.rotate_key")
    assert str(row.remote_server_uuid) == server.uuid


def test_deactivate_and_reactivate(client, capsys):
    server = added(capsys)
    assert admit_json(capsys, "deactivate", server.uuid)["deactivated"] is True
    assert RemoteServer.objects.get(uuid=server.uuid).deactivated_at is not None
    assert request_link(client, server).status_code == 401
    assert admit_json(capsys, "reactivate", server.uuid)["deactivated"] is False
    assert RemoteServer.objects.get(uuid=server.uuid).deactivated_at is None
    assert request_link(client, server).status_code == 200
    events = AuditEvent.objects.filter(event__startswith="remote.server.").order_by("id")
    assert [row.event for row in events] == [
        "remote.server.register",
        "remote.server.deactivate",
        "remote.server.reactivate",
    ]


@pytest.mark.parametrize("action", ["show", "rotate-key", "deactivate", "reactivate"])
@pytest.mark.parametrize("unknown", ["00000000-0000-0000-0000-0000000000ff", "not-a-uuid"])
def test_unknown_uuid_exits_non_zero_with_a_clear_message(capsys, action, unknown):
    added(capsys)
    with pytest.raises(SystemExit) as exited:
        main(["remote-servers", action, unknown, "--json"])
    assert exited.value.code not in (0, None)
    assert exited.value.code == f"admit: no remote server {unknown}"
    assert capsys.readouterr().out == ""
    assert RemoteServer.objects.get().deactivated is False


def test_missing_arguments_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["remote-servers", "add", "--hostname", "h.example.com"])
    assert exited.value.code == 2
    assert "--contact-email" in capsys.readouterr().err
    assert not RemoteServer.objects.exists()


@pytest.mark.parametrize(
    ("hostname", "email", "complaint"),
    [
        ("", "ops@example.com", "not a host name"),
        ("https://chat.example.com", "ops@example.com", "not a host name"),
        ("chat.example.com/path", "ops@example.com", "not a host name"),
        ("chat.example.com", "not-an-address", "not an e-mail address"),
        ("chat.example.com", "", "not an e-mail address"),
    ],
)
def test_add_refuses_what_is_not_a_host_or_an_address(capsys, hostname, email, complaint):
    with pytest.raises(SystemExit) as exited:
        main(["remote-servers", "add", "--hostname", hostname, "--contact-email", email])
    assert isinstance(exited.value.code, str) and complaint in exited.value.code
    assert exited.value.code.startswith("admit: ")
    assert capsys.readouterr().out == ""
    assert not RemoteServer.objects.exists()
