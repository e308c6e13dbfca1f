"""Users: search, view, lock and unlock, end sessions, create."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.sso.models import Session, User
from tests.conftest import GOOD_PASSWORD
from tests.console.conftest import log_in, make_user, sign_up

pytestmark = pytest.mark.django_db


def test_search_by_field_and_approval(console, admin_ust):
    make_user(admin_ust, "alice")
    make_user(admin_ust, "albert")
    sign_up("bob")
    found = console.get("/console/users/", {"q": "al", "field": "username"}).content.decode()
    assert "alice@example.com" in found and "albert@example.com" in found
    assert "bob@example.com" not in found and "2 users found" in found
    pending = console.get("/console/users/", {"approval": "before_decision"}).content.decode()
    assert "bob@example.com" in pending and "alice@example.com" not in pending


def test_one_user_with_their_sessions(console, admin_ust):
    alice = make_user(admin_ust, "alice")
    log_in("alice", "CRM")
    log_in("alice", "ERP")
    page = console.get(f"/console/users/{alice}/").content.decode()
    assert alice in page and "alice@example.com" in page
    assert page.count('name="session"') == 2 and "End all sessions" in page


def test_an_unknown_user_is_a_404(console):
    assert console.get("/console/users/zusrnobody/").status_code == 404


def test_lock_ends_sessions_and_unlock(console, admin_ust):
    alice = make_user(admin_ust, "alice")
    log_in("alice")
    response = console.post(f"/console/users/{alice}/lock/", {"locked": "1"}, follow=True)
    assert "Locked; every session of the user ended." in response.content.decode()
    assert User.objects.get(user_id=alice).is_locked
    assert not Session.objects.filter(user__user_id=alice).exists()
    console.post(f"/console/users/{alice}/lock/", {"locked": "0"})
    assert not User.objects.get(user_id=alice).is_locked
    assert [e.event for e in AuditEvent.objects.filter(target_user_id=alice)][:2] == [
        "user.unlock",
        "user.lock",
    ]


def test_a_superuser_cannot_lock_themselves(console, superuser):
    url = f"/console/users/{superuser.user_id}/lock/"
    # Their own page offers no lock button ...
    own_page = console.get(f"/console/users/{superuser.user_id}/").content.decode()
    assert url not in own_page and "Lock (ends every session)" not in own_page
    # ... and a forged post is refused with the reason (E008001, Zato's invalid operation),
    # not the generic "Not allowed" that suggests the user may not exist.
    response = console.post(url, {"locked": "1"}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert '<p class="notice error">super-users cannot lock themselves (E008001)</p>' in text
    assert "Not allowed" not in text
    assert not User.objects.get(pk=superuser.pk).is_locked
    assert Session.objects.filter(user=superuser).exists()  # still logged in
    assert AuditEvent.objects.get(event="user.lock").error_codes == "E008001"


def test_end_one_session_then_all(console, admin_ust, superuser):
    alice = make_user(admin_ust, "alice")
    log_in("alice", "CRM")
    log_in("alice", "ERP")
    first = Session.objects.filter(user__user_id=alice).order_by("id").first()
    assert first is not None
    url = f"/console/users/{alice}/sessions/end/"
    text = console.post(url, {"session": first.pk}, follow=True).content.decode()
    assert "Ended 1 session." in text
    assert list(Session.objects.filter(user__user_id=alice).values_list("app", flat=True)) == [
        "ERP"
    ]
    event = AuditEvent.objects.get(event="session.end")
    assert event.actor_user_id == superuser.user_id and event.target_user_id == alice
    log_in("alice", "CRM")
    text = console.post(url, follow=True).content.decode()
    assert "Ended 2 sessions." in text
    assert not Session.objects.filter(user__user_id=alice).exists()
    assert AuditEvent.objects.get(event="session.end_all").extra_data == {"ended": 2}


def test_ending_another_users_session_is_refused(console, admin_ust):
    alice, bob = make_user(admin_ust, "alice"), make_user(admin_ust, "bob")
    log_in("bob")
    bobs = Session.objects.get(user__user_id=bob)
    text = console.post(
        f"/console/users/{alice}/sessions/end/", {"session": bobs.pk}, follow=True
    ).content.decode()
    assert "That session does not exist any more" in text
    assert Session.objects.filter(pk=bobs.pk).exists()


def test_create_a_user_approval_status_mod_time_once(console, superuser):
    response = console.post(
        "/console/users/new/",
        {"username": "carol", "email": "carol@example.com", "password": GOOD_PASSWORD,
         "auto_approve": "on"},
    )  # fmt: skip
    carol = User.objects.get(username="carol")
    assert (
        response.status_code == 302 and response["Location"] == f"/console/users/{carol.user_id}/"
    )
    assert carol.is_approved and carol.is_confirmed and not carol.is_superuser
    assert AuditEvent.objects.get(event="user.create").actor_user_id == superuser.user_id
    log_in("carol")


def test_create_without_auto_approve_waits_in_the_queue(console):
    console.post(
        "/console/users/new/",
        {"username": "dave", "email": "dave@example.com", "password": GOOD_PASSWORD},
    )
    assert not User.objects.get(username="dave").is_approved
    assert "dave@example.com" in console.get("/console/queue/").content.decode()


def test_create_shows_the_flows_errors_by_the_fields(console, admin_ust):
    make_user(admin_ust, "alice")
    short = {"username": "eve", "email": "new@example.com", "password": "short"}
    response = console.post("/console/users/new/", short)
    text = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_password_error"><p class="field-error">That password is too short.' in text
    assert 'value="new@example.com"' in text  # what was typed is kept
    taken = {"username": "alice", "email": "new@example.com", "password": GOOD_PASSWORD}
    text = console.post("/console/users/new/", taken).content.decode()
    assert 'id="id_username_error"><p class="field-error">That username is taken.' in text
    assert not User.objects.filter(email="new@example.com").exists()
