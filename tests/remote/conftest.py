"""A registered remote server and helpers to play it."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass

import pytest

from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.remote.flows.registry import add_server
from tests.live.conftest import live_admit  # noqa: F401 (a real admit serve, for test_client)


@dataclass
class Server:
    uuid: str
    key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        raw = f"{self.uuid}:{key if key is not None else self.key}".encode()
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def server(db) -> Server:
    made = add_server("chat.example.com", "ops@example.com", Caller())
    return Server(str(made.server.uuid), made.key)


REALM_UUID = str(uuid.UUID(int=1))
USER_UUID = str(uuid.UUID(int=2))


def link_body(**changes) -> dict:
    body = {
        "user": {"uuid": USER_UUID, "email": "admin@chat.example.com", "full_name": "Ada Admin"},
        "realm": {
            "uuid": REALM_UUID,
            "host": "chat.example.com",
            "name": "Example Chat",
            "org_type": 10,
        },
        "uri_scheme": "https://",
        "next_page": "account",
    }
    body.update(changes)
    return body


def request_link(client, server: Server, body: dict | None = None, key: str | None = None):
    return client.post(
        "/api/v1/remotes/server/login-link",
        json.dumps(body if body is not None else link_body()),
        content_type="application/json",
        **server.headers(key),
    )


def login_path(client, server: Server, body: dict | None = None) -> str:
    response = request_link(client, server, body)
    assert response.status_code == 200, response.content
    url = response.json()["login_url"]
    assert url.startswith("http://admit.test/remote-login/")
    return url.removeprefix("http://admit.test")


def confirmation_path() -> str:
    body = OutgoingEmail.objects.filter(template="remote_confirm").latest("id").body_text
    return re.search(r"http://admit\.test(/remote-login/confirm/\S+/)", body).group(1)


def audit_rows(event: str):
    from admit.audit.models import AuditEvent

    return AuditEvent.objects.filter(event=event).order_by("id")


def known_user(client, server: Server, body: dict | None = None, **fields):
    """A remote realm user who logged in before: the realm is registered by a real link
    request, the user row is made directly (``fields`` override its columns)."""
    from django.utils import timezone

    from admit.remote.models import RemoteRealm, RemoteRealmUser

    body = body if body is not None else link_body()
    login_path(client, server, body)
    values = {
        "email": body["user"]["email"],
        "full_name": "Saved Name",
        "date_joined": timezone.now(),
        "tos_version": "1.0",
    }
    values.update(fields)
    return RemoteRealmUser.objects.create(
        realm=RemoteRealm.objects.get(uuid=body["realm"]["uuid"]),
        user_uuid=body["user"]["uuid"],
        **values,
    )


def log_in(client, server: Server, body: dict | None = None):
    """A known user's whole log-in: link, confirm-login POST; returns the final response."""
    path = login_path(client, server, body)
    return client.post(path, {"full_name": "Ada Admin", "tos_consent": "on"})
