"""A remote server's admin logs in through the server's link: end to end,
the first time (the e-mail form, the e-mailed confirmation, the confirm-login page with its
Terms of Service, the portal) and the next time (straight to confirm-login, no ToS box).

Each part on its own: the e-mail confirmation in ``test_email_confirmation.py``, the
confirm-login page in ``test_confirm_login.py``; in Chromium, ``tests/e2e/test_remote_login.py``."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.remote.models import RemoteRealm, RemoteRealmUser
from tests.remote.conftest import confirmation_path, login_path

pytestmark = pytest.mark.django_db


def test_first_time_then_known_user(client, server):
    path = login_path(client, server)
    form = client.get(path)
    assert form.status_code == 200
    assert b'value="admin@chat.example.com"' in form.content  # pre-filled from the token
    sent = client.post(path, {"email": "admin@chat.example.com"})
    assert sent.status_code == 200 and b"Check your e-mail" in sent.content
    assert not RemoteRealmUser.objects.exists()

    link = confirmation_path()
    assert client.get(link).status_code == 200 and not RemoteRealmUser.objects.exists()
    landed = client.post(link)
    assert landed.status_code == 302 and landed["Location"].startswith(
        "http://admit.test/remote-login/"
    )
    user = RemoteRealmUser.objects.get()
    assert (user.email, user.full_name, user.tos_version) == (
        "admin@chat.example.com",
        "Ada Admin",
        "",
    )

    confirm = landed["Location"].removeprefix("http://admit.test")
    page = client.get(confirm)
    assert b"Confirm login" in page.content and b'name="tos_consent"' in page.content
    refused = client.post(confirm, {"full_name": "Ada A."})
    assert refused.status_code == 400
    assert b"You must accept the Terms of Service to proceed." in refused.content
    done = client.post(confirm, {"full_name": "Ada A.", "tos_consent": "on"})
    assert done.status_code == 302 and done["Location"] == "/portal/account/"
    user.refresh_from_db()
    assert (user.full_name, user.tos_version) == ("Ada A.", "1.0") and user.last_login
    assert client.get("/portal/account/").status_code == 200
    identity = client.get("/api/v1/remotes/session").json()
    assert identity["user"] == {
        "uuid": str(user.user_uuid),
        "email": user.email,
        "full_name": "Ada A.",
    }
    assert identity["remote_realm_uuid"] == str(RemoteRealm.objects.get().uuid)
    assert identity["next_page"] == "account"
    events = set(AuditEvent.objects.values_list("event", flat=True))
    assert {
        "remote.login_link",
        "remote.email_confirmation",
        "remote.email_confirmed",
        "remote.login",
    } <= events

    # The next time, a known user goes straight to the confirm-login page, with no ToS box.
    again = login_path(client, server)
    page = client.get(again)
    assert b"Confirm login" in page.content and b"tos_consent" not in page.content
    assert client.post(again, {"full_name": "Ada A."}).status_code == 302
