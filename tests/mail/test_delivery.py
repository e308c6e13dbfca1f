"""E-mail delivery through a real SMTP server: what arrives, an SMTP outage, giving up, the
outbox being part of the flow's transaction, and one row never sent twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections, transaction

from admit.core.context import Caller
from admit.mail import outbox
from admit.mail.models import OutgoingEmail
from admit.mail.outbox import CLAIM_FOR, MAX_ATTEMPTS, _claim, deliver_due, enqueue, retry_delay
from admit.sso import flows
from admit.sso.models import User
from tests.conftest import signup_body
from tests.mail.conftest import FROM_ADDRESS

pytestmark = pytest.mark.django_db(transaction=True)

CONFIRM_LINK = re.compile(r"http://admit\.test/confirm/(zcnt[A-Za-z0-9_\-]+)/")


def sign_up(api, username: str) -> str:
    """Signs ``username`` up through the API; returns the confirm token from the response."""
    response = api.post(
        "/zato/sso/user/signup", signup_body(username=username, email=f"{username}@example.com")
    )
    assert response.status_code == 200, response.content
    return response.json()["confirm_token"]


def pending_user_id(api, ust: str, status: str, username: str) -> str:
    response = api.get(f"/zato/sso/user/signup?status={status}&ust={ust}")
    assert response.status_code == 200, response.content
    (user_id,) = [row["user_id"] for row in response.json() if row["username"] == username]
    return user_id


def row(template: str, to: str) -> OutgoingEmail:
    return OutgoingEmail.objects.get(template=template, to=to)


def advance_to(clock, when, seconds: float = 0) -> None:
    """Moves the clock to ``when`` plus ``seconds`` (negative: before it)."""
    clock.advance(seconds=(when - clock()).total_seconds() + seconds)


# 1. The three e-mails of the sign-up issue arrive, as people will read them.


def test_confirmation_welcome_and_rejection_arrive_over_smtp(api, admin_ust, smtp):
    smtp.start()
    first_token = sign_up(api, "user1")
    sign_up(api, "user2")

    assert deliver_due() == 2
    (confirm_mail,) = smtp.to("user1@example.com")
    assert len(smtp.to("user2@example.com")) == 1

    # The sign-up confirmation: to the address signed up with, from the configured sender,
    # with the confirmation link in both parts.
    assert confirm_mail.mail_from == FROM_ADDRESS
    assert confirm_mail.message["To"] == "user1@example.com"
    assert "Confirm your sign-up" in confirm_mail.message["Subject"]
    assert "user1" in confirm_mail.message["Subject"]
    assert (
        confirm_mail.message["Message-ID"] == row("signup_confirm", "user1@example.com").message_id
    )
    text_links = CONFIRM_LINK.findall(confirm_mail.text())
    html_links = CONFIRM_LINK.findall(confirm_mail.html())
    assert text_links == [first_token]
    assert html_links == [first_token]
    assert f'href="http://admit.test/confirm/{first_token}/"' in confirm_mail.html()

    # The person confirms with the key from the e-mail; a super-user approves one sign-up
    # and rejects the other with a reason.
    mailed_token = text_links[0]
    response = api.post("/zato/sso/user/signup/confirm", {"confirm_token": mailed_token})
    assert response.status_code == 200, response.content
    user1_id = pending_user_id(api, admin_ust, "to-approve", "user1")
    response = api.post("/zato/sso/user/signup/approve", {"user_id": user1_id, "ust": admin_ust})
    assert response.status_code == 200, response.content
    reason = "Please use your <company> address & sign up again."
    user2_id = pending_user_id(api, admin_ust, "to-confirm", "user2")
    response = api.post(
        "/zato/sso/user/signup/reject", {"user_id": user2_id, "reason": reason, "ust": admin_ust}
    )
    assert response.status_code == 200, response.content

    assert deliver_due() == 2
    assert len(smtp.messages) == 4

    (_, welcome) = smtp.to("user1@example.com")
    assert welcome.mail_from == FROM_ADDRESS
    assert welcome.message["To"] == "user1@example.com"
    assert "Welcome" in welcome.message["Subject"]
    assert "user1" in welcome.message["Subject"]
    assert "can log in now" in welcome.text()
    assert "can log in now" in welcome.html()
    assert welcome.message["Message-ID"] == row("welcome", "user1@example.com").message_id

    (_, rejection) = smtp.to("user2@example.com")
    assert rejection.message["To"] == "user2@example.com"
    assert "not accepted" in rejection.message["Subject"]
    assert "user2" in rejection.message["Subject"]
    assert reason in rejection.text()
    # The reason reaches the HTML part escaped, never as markup.
    assert "Please use your &lt;company&gt; address &amp; sign up again." in rejection.html()
    assert "<company>" not in rejection.html()
    assert rejection.message["Message-ID"] == row("rejected", "user2@example.com").message_id

    # Every message has its own Message-ID.
    assert len({received.message["Message-ID"] for received in smtp.messages}) == 4


# 2. An SMTP outage loses nothing, waits for its backoff, and the retry sends once.


def test_smtp_down_first_then_up_delivers_exactly_once(api, smtp, clock):
    token = sign_up(api, "user1")
    queued_at = clock()

    assert deliver_due() == 0  # nothing listens on the port yet
    email = row("signup_confirm", "user1@example.com")
    assert email.status == OutgoingEmail.Status.QUEUED
    assert email.attempts == 1
    assert email.last_error
    assert email.next_attempt_at > queued_at
    assert email.sent_at is None
    assert token in email.body_text  # still there to send later

    # Before the backoff has passed a new round does not try again (it would fail and count).
    advance_to(clock, email.next_attempt_at, seconds=-1)
    assert deliver_due() == 0
    assert row("signup_confirm", "user1@example.com").attempts == 1

    smtp.start()
    advance_to(clock, email.next_attempt_at, seconds=1)
    assert deliver_due() == 1
    assert len(smtp.messages) == 1
    (received,) = smtp.messages
    assert received.rcpt_tos == ["user1@example.com"]
    assert CONFIRM_LINK.findall(received.text()) == [token]
    assert received.message["Message-ID"] == email.message_id

    # A later round sends nothing more, however much later.
    assert deliver_due() == 0
    clock.advance(days=1)
    assert deliver_due() == 0
    assert len(smtp.messages) == 1

    sent = row("signup_confirm", "user1@example.com")
    assert sent.status == OutgoingEmail.Status.SENT
    assert sent.attempts == 2
    assert sent.sent_at is not None
    assert sent.last_error == ""
    # The link is a live secret: once delivered, the database no longer holds it.
    assert sent.body_text == ""
    assert sent.body_html == ""
    assert not OutgoingEmail.objects.filter(body_text__contains=token).exists()
    assert not OutgoingEmail.objects.filter(body_html__contains=token).exists()


# 3. A message the SMTP server keeps refusing is given up on, and then left alone.


def test_a_refused_message_is_marked_failed_after_max_attempts_and_never_retried(api, smtp, clock):
    smtp.handler.refuse = {"user1@example.com"}
    smtp.start()
    sign_up(api, "user1")

    gaps = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        email = row("signup_confirm", "user1@example.com")
        if attempt > 1:
            # One second early: the backoff holds and the server sees no new attempt.
            advance_to(clock, email.next_attempt_at, seconds=-1)
            assert deliver_due() == 0
            assert len(smtp.handler.refused) == attempt - 1
            advance_to(clock, email.next_attempt_at)
        attempted_at = clock()
        assert deliver_due() == 0
        assert len(smtp.handler.refused) == attempt
        email = row("signup_confirm", "user1@example.com")
        assert email.attempts == attempt
        assert "550" in email.last_error
        if attempt < MAX_ATTEMPTS:
            assert email.status == OutgoingEmail.Status.QUEUED
            gaps.append(email.next_attempt_at - attempted_at)

    # Exponential backoff from 15 seconds, capped at an hour.
    assert gaps[0] == timedelta(seconds=15)
    assert gaps[1] == timedelta(seconds=30)
    assert gaps == sorted(gaps)
    assert max(gaps) == timedelta(hours=1)
    assert gaps == [retry_delay(n) for n in range(1, MAX_ATTEMPTS)]

    failed = row("signup_confirm", "user1@example.com")
    assert failed.status == OutgoingEmail.Status.FAILED
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.sent_at is None
    assert failed.body_text == failed.body_html == ""  # no live link left behind

    # Even once the server would accept it, a failed message stays failed and unsent.
    smtp.handler.refuse = set()
    clock.advance(days=2)
    assert deliver_due() == 0
    assert len(smtp.handler.refused) == MAX_ATTEMPTS
    assert smtp.messages == []
    still = row("signup_confirm", "user1@example.com")
    assert still.status == OutgoingEmail.Status.FAILED
    assert still.attempts == MAX_ATTEMPTS


# 4. Nothing is queued when the flow fails.


def test_a_refused_signup_queues_no_email(api, smtp):
    smtp.start()
    response = api.post("/zato/sso/user/signup", signup_body(password="password123"))
    assert response.status_code == 403
    assert "E003001" in response.json()["sub_status"]
    assert not OutgoingEmail.objects.exists()
    assert deliver_due() == 0
    assert smtp.messages == []


def test_enqueue_rolls_back_with_the_transaction_it_runs_in(smtp):
    smtp.start()
    context = {"user": SimpleNamespace(username="user1", display_name=""), "link": "http://x/"}

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("signup_confirm", "gone@example.com", context)
        raise RuntimeError("the flow failed after queueing its e-mail")
    assert not OutgoingEmail.objects.filter(to="gone@example.com").exists()

    # The same call in a transaction that commits does queue it.
    with transaction.atomic():
        enqueue("signup_confirm", "kept@example.com", context)
    assert deliver_due() == 1
    assert [received.rcpt_tos for received in smtp.messages] == [["kept@example.com"]]


def test_a_reject_that_fails_after_queueing_sends_no_rejection(api, admin_ust, smtp, monkeypatch):
    smtp.start()
    sign_up(api, "user1")
    assert deliver_due() == 1
    user_id = pending_user_id(api, admin_ust, "to-confirm", "user1")

    def crash(user):
        raise RuntimeError("the database went away")

    # reject() queues the e-mail, then revokes the keys and deletes the user: fail there.
    monkeypatch.setattr("admit.sso.flows.approval.confirmations.forget", crash)
    with pytest.raises(RuntimeError):
        flows.reject(user_id, "no reason", admin_ust, Caller())

    assert not OutgoingEmail.objects.filter(template="rejected").exists()
    assert User.objects.filter(user_id=user_id).exists()
    assert deliver_due() == 0
    assert len(smtp.messages) == 1  # only the confirmation sent before


# 5. Two workers never send one row twice.


def test_a_claim_is_exclusive_until_it_expires(api, clock):
    sign_up(api, "user1")
    email = row("signup_confirm", "user1@example.com")

    assert _claim(email.id) is True  # worker A
    assert _claim(email.id) is False  # worker B, while A's claim is live
    clock.advance(seconds=CLAIM_FOR.total_seconds() - 1)
    assert _claim(email.id) is False
    clock.advance(seconds=2)
    assert _claim(email.id) is True  # A died; its claim ran out
    assert _claim(email.id) is False


def test_a_row_claimed_by_another_worker_is_sent_only_after_its_claim_expires(api, smtp, clock):
    smtp.start()
    sign_up(api, "user1")
    email = row("signup_confirm", "user1@example.com")

    assert _claim(email.id) is True  # another worker holds it, then dies before sending
    assert deliver_due() == 0
    assert smtp.messages == []

    clock.advance(seconds=CLAIM_FOR.total_seconds() + 1)
    assert deliver_due() == 1
    assert len(smtp.messages) == 1
    assert deliver_due() == 0
    assert _claim(email.id) is False  # sent: nobody can take it again
    assert len(smtp.messages) == 1


def test_two_workers_racing_over_the_same_rows_send_each_once(smtp, monkeypatch):
    smtp.start()
    user = SimpleNamespace(username="someone", display_name="")
    with transaction.atomic():
        rows = [
            enqueue("welcome", f"user{n}@example.com", {"user": user}).message_id for n in range(10)
        ]

    # Both workers read the same list of due rows before either claims one, so every row
    # is contended.
    both_listed = threading.Barrier(2, timeout=30)
    real_claim = outbox._claim
    listed: set[int] = set()

    def claim_after_both_listed(email_id: int) -> bool:
        me = threading.get_ident()
        if me not in listed:
            listed.add(me)
            both_listed.wait()
        return real_claim(email_id)

    monkeypatch.setattr(outbox, "_claim", claim_after_both_listed)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(deliver_due())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(results) == 10
    received_ids = sorted(received.message["Message-ID"] for received in smtp.messages)
    assert received_ids == sorted(rows)
    assert OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).count() == 10


# 6. The `admit worker --once` command delivers through ADMIT_SMTP_URL.


def _database_url() -> str | None:
    """A URL for the database these tests use, for a subprocess to reach the same rows."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(config["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            return None
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor == "postgresql":
        user = quote(config.get("USER") or "", safe="")
        password = f":{quote(config['PASSWORD'], safe='')}" if config.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = quote(config.get("HOST") or "localhost", safe="")
        port = f":{config['PORT']}" if config.get("PORT") else ""
        return f"postgresql://{auth}{host}{port}/{quote(config['NAME'], safe='')}"
    return None


def test_admit_worker_once_delivers_queued_email(api, smtp, smtp_port):
    database_url = _database_url()
    if database_url is None:
        pytest.skip("the test database cannot be reached from another process")
    smtp.start()
    token = sign_up(api, "user1")

    env = {
        **os.environ,
        "ADMIT_DATABASE_URL": database_url,
        "ADMIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "ADMIT_EMAIL_FROM": f"admit <{FROM_ADDRESS}>",
        "ADMIT_BASE_URL": "http://admit.test",
        "ADMIT_DATA_DIR": str(settings.ADMIT_DATA_DIR),
    }
    admit = Path(sys.executable).with_name("admit")
    done = subprocess.run(
        [str(admit), "worker", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    (received,) = smtp.messages
    assert received.rcpt_tos == ["user1@example.com"]
    assert received.mail_from == FROM_ADDRESS
    assert CONFIRM_LINK.findall(received.text()) == [token]
    sent = row("signup_confirm", "user1@example.com")
    assert sent.status == OutgoingEmail.Status.SENT
    assert sent.body_text == ""
