"""The approval queue: lists, filters, approve, reject with a reason, bulk actions."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.console.conftest import sign_up

pytestmark = pytest.mark.django_db

QUEUE = "/console/queue/"


def test_the_queue_lists_who_when_where_and_apps(console, clock):
    sign_up("ann", apps=("CRM", "ERP"))
    clock.advance(minutes=5)
    sign_up("bob", confirm=False)
    page = console.get(QUEUE).content.decode()
    assert page.index("ann@example.com") < page.index("bob@example.com")
    assert "198.51.100.4" in page and "203.0.113.7, 10.0.0.1" in page
    assert '<span class="tag">ERP</span>' in page
    assert 'id="count-to-confirm">1<' in page and 'id="count-to-approve">1<' in page
    assert "2 pending sign-ups" in page


def test_filter_by_status(console):
    sign_up("ann")
    sign_up("bob", confirm=False)
    to_approve = console.get(QUEUE, {"status": "to-approve"}).content.decode()
    assert "ann@example.com" in to_approve and "bob@example.com" not in to_approve
    to_confirm = console.get(QUEUE, {"status": "to-confirm"}).content.decode()
    assert "bob@example.com" in to_confirm and "ann@example.com" not in to_confirm


def test_filter_by_app(console):
    sign_up("ann", app="CRM", apps=("CRM",))
    sign_up("bob", app="ERP", apps=("ERP",))
    sign_up("cat", app="CRM", apps=("CRM", "ERP"))
    erp = console.get(QUEUE, {"app": "ERP"}).content.decode()
    assert "bob@" in erp and "cat@" in erp and "ann@" not in erp
    assert "2 pending sign-ups match the filter" in erp


def test_approving_sends_the_welcome_email(console, superuser):
    ann = sign_up("ann")
    response = console.post(QUEUE, {"action": "approve", "user_id": ann, "back": QUEUE})
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert User.objects.get(user_id=ann).is_approved
    assert OutgoingEmail.objects.filter(template="welcome", to="ann@example.com").count() == 1
    event = AuditEvent.objects.get(event="signup.approve")
    assert event.actor_user_id == superuser.user_id and event.target_user_id == ann
    assert event.remote_ip == "192.0.2.10"
    page = console.get(QUEUE).content.decode()
    assert "Approved ann." in page and "No pending sign-ups" in page


def test_an_unconfirmed_signup_cannot_be_approved_and_says_why(console):
    bob = sign_up("bob", confirm=False)
    page = console.post(QUEUE, {"action": "approve", "user_id": bob}, follow=True)
    text = page.content.decode()
    assert "Could not approve bob: Not confirmed yet" in text and "E005003" in text
    assert not User.objects.get(user_id=bob).is_approved


def test_an_unconfirmed_signup_is_offered_no_approve_button(console):
    sign_up("ann")
    bob = sign_up("bob", confirm=False)
    page = console.get(QUEUE).content.decode()
    assert 'aria-label="Approve ann"' in page and 'aria-label="Approve bob"' not in page
    assert f'id="wait-{bob}">Approve once the e-mail is confirmed<' in page
    assert 'aria-label="Reject bob"' in page


def test_reject_asks_for_the_reason_and_a_second_press_before_deleting(console):
    ann = sign_up("ann")
    ask = console.post(QUEUE, {"action": "reject", "user_id": ann, "back": QUEUE + "?app=CRM"})
    page = ask.content.decode()
    assert ask.status_code == 200 and "Reject ann?" in page
    assert "deletes</strong> the account" in page and "ann@example.com" in page
    assert 'name="reason"' in page and "required" in page
    assert 'href="/console/queue/?app=CRM">Cancel' in page
    assert User.objects.filter(user_id=ann).exists()
    assert not OutgoingEmail.objects.filter(template="rejected").exists()

    # The second press without a reason: asked again, nothing deleted.
    empty = {"action": "reject", "selected": [ann], "confirmed": "on", "reason": "  "}
    again = console.post(QUEUE, empty)
    assert again.status_code == 400
    assert "Give a reason: the e-mail tells the person why." in again.content.decode()
    assert User.objects.filter(user_id=ann).exists()
    assert not AuditEvent.objects.filter(event="signup.reject").exists()


def test_rejecting_sends_the_reason(console):
    ann = sign_up("ann")
    console.post(
        QUEUE,
        {"action": "reject", "user_id": ann, "reason": "Not an employee", "confirmed": "on"},
    )
    assert not User.objects.filter(user_id=ann).exists()
    mail = OutgoingEmail.objects.get(template="rejected", to="ann@example.com")
    assert "Not an employee" in mail.body_text
    assert AuditEvent.objects.get(event="signup.reject").extra_data == {"reason": "Not an employee"}


def test_bulk_approve_and_reject(console):
    ann, bob, cat = sign_up("ann"), sign_up("bob"), sign_up("cat", confirm=False)
    response = console.post(QUEUE, {"action": "approve", "selected": [ann, bob, cat]}, follow=True)
    text = response.content.decode()
    assert "Approved ann, bob." in text and "Could not approve cat: Not confirmed yet" in text
    assert OutgoingEmail.objects.filter(template="welcome").count() == 2
    dan = sign_up("dan")
    asked = console.post(QUEUE, {"action": "reject", "selected": [cat, dan, ann]})
    page = asked.content.decode()
    assert "Reject 2 sign-ups?" in page and "cat@example.com" in page and "dan@example.com" in page
    assert "1 of the ticked sign-up is no longer pending" in page  # ann is approved
    assert User.objects.filter(user_id__in=[cat, dan]).count() == 2
    console.post(
        QUEUE, {"action": "reject", "selected": [cat, dan], "reason": "spam", "confirmed": "on"}
    )
    assert not User.objects.filter(user_id__in=[cat, dan]).exists()
    assert OutgoingEmail.objects.filter(template="rejected").count() == 2


def test_bulk_with_nothing_ticked(console):
    text = console.post(QUEUE, {"action": "approve"}, follow=True).content.decode()
    assert "Tick at least one sign-up first." in text


def test_back_never_leaves_the_console(console):
    ann = sign_up("ann")
    response = console.post(QUEUE, {"action": "approve", "user_id": ann, "back": "//evil.test/"})
    assert response["Location"] == QUEUE
