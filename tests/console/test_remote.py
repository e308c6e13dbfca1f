"""Remote servers and realms, their users and audit events: read-only pages."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from admit.audit.models import AuditEvent
from admit.remote.models import RemoteRealm, RemoteRealmUser, RemoteServer, RemoteServerUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(db) -> RemoteServer:
    now = timezone.now()
    server = RemoteServer.objects.create(
        uuid=uuid.uuid4(), key_digest="0" * 64, hostname="chat.example.com",
        contact_email="ops@example.com", registered_at=now,
    )  # fmt: skip
    realm = RemoteRealm.objects.create(
        server=server, uuid=uuid.uuid4(), host="zulip.example.com", name="Zulip Dev",
        registered_at=now, updated_at=now,
    )  # fmt: skip
    RemoteRealmUser.objects.create(
        realm=realm, user_uuid=uuid.uuid4(), email="iago@example.com", full_name="Iago",
        date_joined=now, tos_version="1.0",
    )  # fmt: skip
    RemoteServerUser.objects.create(
        server=server, email="ops@example.com", email_key="ops@example.com",
        full_name="Ops", date_joined=now,
    )  # fmt: skip
    AuditEvent.objects.create(
        created_at=now, event="remote.login", outcome="ok", cid="c1",
        remote_server_uuid=server.uuid, remote_realm_uuid=realm.uuid,
    )  # fmt: skip
    return server


def test_the_list(console, server):
    page = console.get("/console/remote/").content.decode()
    assert "chat.example.com" in page and "Zulip Dev" in page and str(server.uuid) in page


def test_one_server_with_realms_users_and_events(console, server):
    page = console.get(f"/console/remote/{server.uuid}/").content.decode()
    assert "Zulip Dev" in page and "iago@example.com" in page and "Iago" in page
    assert "ops@example.com" in page and "remote.login" in page
    assert "0" * 64 not in page  # the key's digest stays out


def test_an_unknown_server_is_a_404(console):
    assert console.get(f"/console/remote/{uuid.uuid4()}/").status_code == 404
