"""POST /zato/sso/user/login and /logout: enough session for the approval queue."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from admit.audit.models import AuditEvent
from admit.core.secrets import digest
from admit.sso.models import Session, User
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, codes, signup_body

pytestmark = pytest.mark.django_db

LOGIN = "/zato/sso/user/login"
LOGOUT = "/zato/sso/user/logout"


@pytest.fixture
def member(api, policy):
    policy(signup={"confirmation_required": False, "approval_required": False})
    api.post("/zato/sso/user/signup", signup_body())
    return User.objects.get()


def credentials(**changes):
    return {"username": "user1", "password": GOOD_PASSWORD, "current_app": "CRM", **changes}


def test_login_returns_a_new_ust_stored_hashed(api, member):
    first = api.post(LOGIN, credentials()).json()
    second = api.post(LOGIN, credentials(username="USER1")).json()
    assert first["status"] == "ok" and first["ust"].startswith("zust") and len(first["ust"]) == 36
    assert first["ust"] != second["ust"]
    session = Session.objects.get(ust_digest=digest(first["ust"]))
    assert session.user == member and session.app == "CRM"
    assert not Session.objects.filter(ust_digest=first["ust"]).exists()


def test_wrong_password_and_unknown_user_look_the_same(api, member):
    wrong = api.post(LOGIN, credentials(password="wrong password"))
    unknown = api.post(LOGIN, credentials(username="nobody"))
    assert wrong.status_code == unknown.status_code == 403
    assert codes(wrong) == codes(unknown) == ["E005001"]
    rows = AuditEvent.objects.filter(event="login", outcome="error")
    assert rows.count() == 2
    assert "wrong password" not in str(list(rows.values()))


def test_state_is_told_only_to_whoever_knows_the_password(api, policy):
    api.post("/zato/sso/user/signup", signup_body())
    assert codes(api.post(LOGIN, credentials(password="wrong password"))) == ["E005001"]
    assert codes(api.post(LOGIN, credentials())) == ["E005003"]


def test_locked_user(api, member):
    User.objects.filter(pk=member.pk).update(is_locked=True)
    assert codes(api.post(LOGIN, credentials())) == ["E005002"]


def test_apps(api, member, policy):
    assert codes(api.post(LOGIN, credentials(current_app="HR"))) == ["E004001"]
    policy(apps={"login_allowed": ("ERP",)})
    assert codes(api.post(LOGIN, credentials())) == ["E004001"]
    assert api.post(LOGIN, credentials(current_app="ERP")).status_code == 200


def test_successful_login_is_audited_without_secrets(api, member):
    ust = api.post(LOGIN, credentials()).json()["ust"]
    row = AuditEvent.objects.get(event="login", outcome="ok")
    assert row.target_user_id == member.user_id and row.app == "CRM"
    everything = str(list(AuditEvent.objects.values()))
    assert ust not in everything and GOOD_PASSWORD not in everything


def test_old_hashes_are_upgraded_on_login(api, member):
    User.objects.filter(pk=member.pk).update(
        password=make_password(GOOD_PASSWORD, hasher="pbkdf2_sha256")
    )
    assert api.post(LOGIN, credentials()).status_code == 200
    assert User.objects.get().password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_logout_ends_the_session(api, superuser):
    ust = api.post(
        LOGIN, {"username": "boss", "password": ADMIN_PASSWORD, "current_app": "CRM"}
    ).json()["ust"]
    response = api.post(LOGOUT, {"ust": ust, "current_app": "CRM"})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert codes(api.get("/zato/sso/user/signup", {"ust": ust})) == ["E007001"]
    assert AuditEvent.objects.get(event="logout").target_user_id == superuser.user_id


def test_logout_of_an_unknown_session_is_ok_too(api, db):
    assert api.post(LOGOUT, {"ust": "zust" + "0" * 32, "current_app": "CRM"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_a_sign_up_and_a_log_in_land_whole(api, member):
    """As in the service, where both flows send their writes as one batch at their end."""
    assert member.is_confirmed and member.is_approved  # set before the row was written
    ust = api.post(LOGIN, credentials()).json()["ust"]
    session = Session.objects.get(ust_digest=digest(ust))
    assert [event.kind for event in session.events.all()] == ["login"]
    member.refresh_from_db()
    assert member.last_login == session.created_at
    outcomes = AuditEvent.objects.values_list("event", "outcome").order_by("id")
    assert list(outcomes) == [("signup", "ok"), ("login", "ok")]
