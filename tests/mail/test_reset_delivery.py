"""The password reset end to end through a real SMTP server: the token is read from the
message that arrives, used, and the "password changed" notice arrives after it."""

from __future__ import annotations

import re

import pytest

from admit.mail.models import OutgoingEmail
from admit.mail.outbox import deliver_due
from tests.conftest import GOOD_PASSWORD, make_user
from tests.mail.conftest import FROM_ADDRESS

pytestmark = pytest.mark.django_db

RESET = "/zato/sso/password/reset"
LOGIN = "/zato/sso/user/login"
NEW_PASSWORD = "Seven swallows over the plum tree"
TOKEN = re.compile(r"zcnt[0-9a-f]{32}")


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice", display_name="Alice <Liddell>")


def log_in(api, password: str):
    return api.post(LOGIN, {"username": "alice", "password": password, "current_app": "CRM"})


def test_reset_end_to_end_over_smtp(api, alice, smtp):
    smtp.start()
    session = log_in(api, GOOD_PASSWORD).json()["ust"]

    # Asking: only the real account gets mail, the answers are alike.
    for credential in ("alice@example.com", "nobody@example.com"):
        response = api.post(RESET, {"credential": credential})
        assert response.status_code == 200 and set(response.json()) == {"status", "cid"}
    assert deliver_due() == 1
    (reset_mail,) = smtp.messages
    assert reset_mail.rcpt_tos == ["alice@example.com"]
    assert reset_mail.mail_from == FROM_ADDRESS
    assert reset_mail.message["To"] == "alice@example.com"
    assert reset_mail.message["Subject"] == "Reset your password, alice"
    text, html = reset_mail.text(), reset_mail.html()
    (token,) = set(TOKEN.findall(text))
    assert TOKEN.findall(html) == [token]
    assert "valid for 24 hours" in text
    assert "Hello Alice <Liddell>," in text
    assert "Alice &lt;Liddell&gt;" in html and "<Liddell>" not in html
    # Once delivered, the database no longer holds the live token.
    sent = OutgoingEmail.objects.get(template="password_reset")
    assert sent.status == OutgoingEmail.Status.SENT
    assert token not in sent.body_text + sent.body_html

    # Using the token from the message.
    opened = api.call("PATCH", RESET, {"token": token})
    assert opened.status_code == 200, opened.content
    reset_key = opened.json()["reset_key"]
    done = api.call(
        "DELETE", RESET, {"token": token, "reset_key": reset_key, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.content
    assert log_in(api, GOOD_PASSWORD).status_code == 403
    assert log_in(api, NEW_PASSWORD).status_code == 200
    ended = api.get("/zato/sso/user/session/list", {"ust": session})
    assert ended.status_code == 403 and ended.json()["sub_status"] == ["E007001"]

    # The notice.
    assert deliver_due() == 1
    assert len(smtp.messages) == 2
    notice = smtp.messages[1]
    assert notice.rcpt_tos == ["alice@example.com"]
    assert notice.message["Subject"] == "Your password was changed"
    assert "alice" in notice.text() and "every session of the account was ended" in notice.text()
    assert "reset your password at once" in notice.html()
    assert not TOKEN.search(notice.text())  # no live secret in the notice
    assert notice.message["Message-ID"] != reset_mail.message["Message-ID"]

    assert deliver_due() == 0
    assert len(smtp.messages) == 2


def test_a_reset_mail_held_up_by_an_smtp_outage_still_works_when_it_arrives(
    api, alice, smtp, clock
):
    api.post(RESET, {"credential": "alice"})
    assert deliver_due() == 0  # nothing listens yet
    queued = OutgoingEmail.objects.get(template="password_reset")
    assert queued.status == OutgoingEmail.Status.QUEUED and queued.attempts == 1

    smtp.start()
    clock.advance(seconds=(queued.next_attempt_at - clock()).total_seconds() + 1)
    assert deliver_due() == 1
    (received,) = smtp.messages
    (token,) = set(TOKEN.findall(received.text()))
    reset_key = api.call("PATCH", RESET, {"token": token}).json()["reset_key"]
    done = api.call(
        "DELETE", RESET, {"token": token, "reset_key": reset_key, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.content
    assert deliver_due() == 1
    assert smtp.messages[-1].message["Subject"] == "Your password was changed"
