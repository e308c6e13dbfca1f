"""POST /zato/sso/user/login: each check in its order, each code, the hidden codes and the
audit trail. The throttling of failures is in test_throttle.py."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest

from admit.audit.models import AuditEvent
from admit.core import clock as admit_clock
from admit.core import totp
from admit.core.context import Caller
from admit.sso.flows.users import NewUser, _insert
from admit.sso.models import Session, User
from tests.conftest import GOOD_PASSWORD, ApiClient, codes, signup_body

pytestmark = pytest.mark.django_db

LOGIN = "/zato/sso/user/login"
SIGNUP = "/zato/sso/user/signup"
NEW_PASSWORD = "Another-Long-Passphrase-77"


def credentials(**changes):
    return {"username": "user1", "password": GOOD_PASSWORD, "current_app": "CRM", **changes}


def make_user(name: str = "user1", approved: bool = True) -> User:
    """A confirmed user (approved unless told otherwise) with GOOD_PASSWORD."""
    return _insert(NewUser(name, f"{name}@example.com", GOOD_PASSWORD), approved=approved)


@pytest.fixture
def member(db) -> User:
    return make_user()


def with_totp(api: ApiClient, user: User) -> str:
    """Turns TOTP on for ``user`` through the API; returns the secret."""
    ust = api.post(LOGIN, credentials(username=user.username)).json()["ust"]
    response = api.call("PATCH", "/zato/sso/user/totp", {"ust": ust})
    assert response.status_code == 200
    secret = response.json()["totp_key"]
    # Switched on with the previous step's code, so that the current one stays unspent.
    switch = totp.code_at(secret, totp.step_of(admit_clock.now()) - 1)
    body = {"ust": ust, "is_totp_enabled": True, "totp_code": switch}
    assert api.call("PATCH", "/zato/sso/user", body).status_code == 200
    return secret


def code_now(secret: str, clock, steps: int = 0) -> str:
    return totp.code_at(secret, totp.step_of(clock()) + steps)


def refresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


# The checks, one by one


def test_right_credentials_open_a_session(api, member):
    response = api.post(LOGIN, credentials())
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["ust"].startswith("zust")
    assert "sub_status" not in body
    assert Session.objects.get().user == member


def test_unknown_user_and_wrong_password_are_the_same_e005001(api, member):
    unknown = api.post(LOGIN, credentials(username="nobody"))
    wrong = api.post(LOGIN, credentials(password="not the password"))
    assert unknown.status_code == wrong.status_code == 403
    assert codes(unknown) == codes(wrong) == ["E005001"]
    assert set(unknown.json()) == set(wrong.json()) == {"status", "sub_status", "cid"}
    assert not Session.objects.exists()


def test_unknown_user_still_spends_one_hash(api, db, monkeypatch):
    login_flow = importlib.import_module("admit.sso.flows.login")  # not the re-exported login()
    checked = []
    real = login_flow.check_password
    monkeypatch.setattr(
        login_flow, "check_password", lambda *args: checked.append(1) or real(*args)
    )
    assert codes(api.post(LOGIN, credentials(username="nobody"))) == ["E005001"]
    assert checked == [1]


def test_confirmed_but_unapproved_user_with_the_right_password_gets_e005004(api, db):
    make_user(approved=False)
    assert codes(api.post(LOGIN, credentials())) == ["E005004"]
    assert codes(api.post(LOGIN, credentials(password="not the password"))) == ["E005001"]


def test_unconfirmed_user_with_the_right_password_gets_e005003(api, db):
    assert api.post(SIGNUP, signup_body()).status_code == 200  # confirmation required
    assert codes(api.post(LOGIN, credentials())) == ["E005003"]
    assert codes(api.post(LOGIN, credentials(password="not the password"))) == ["E005001"]


def test_confirmed_then_approved_sign_up_can_log_in(api, admin_ust):
    token = api.post(SIGNUP, signup_body()).json()["confirm_token"]
    api.post("/zato/sso/user/signup/confirm", {"confirm_token": token})
    assert codes(api.post(LOGIN, credentials())) == ["E005004"]
    user_id = User.objects.get(username="user1").user_id
    api.post("/zato/sso/user/signup/approve", {"user_id": user_id, "ust": admin_ust})
    assert api.post(LOGIN, credentials()).status_code == 200


def test_totp_required_wrong_right_and_single_use(api, member, clock):
    secret = with_totp(api, member)
    missing = api.post(LOGIN, credentials())
    assert missing.status_code == 403 and codes(missing) == ["E005008"]
    good = code_now(secret, clock)
    wrong = "000000" if good != "000000" else "111111"
    assert codes(api.post(LOGIN, credentials(totp_code=wrong))) == ["E005001"]
    first = api.post(LOGIN, credentials(totp_code=good))
    assert first.status_code == 200 and first.json()["ust"].startswith("zust")
    again = api.post(LOGIN, credentials(totp_code=good))
    assert again.status_code == 403 and codes(again) == ["E005001"]
    clock.advance(seconds=totp.STEP_SECONDS)
    assert api.post(LOGIN, credentials(totp_code=code_now(secret, clock))).status_code == 200


def test_an_older_code_after_a_newer_one_is_refused(api, member, clock):
    secret = with_totp(api, member)
    assert api.post(LOGIN, credentials(totp_code=code_now(secret, clock))).status_code == 200
    older = code_now(secret, clock, steps=-1)
    assert codes(api.post(LOGIN, credentials(totp_code=older))) == ["E005001"]


def test_expired_totp_code_is_refused(api, member, clock):
    secret = with_totp(api, member)
    stale = code_now(secret, clock)
    clock.advance(seconds=totp.STEP_SECONDS * 3)
    assert codes(api.post(LOGIN, credentials(totp_code=stale))) == ["E005001"]


def test_totp_is_asked_only_after_the_password(api, member, clock):
    secret = with_totp(api, member)
    wrong = api.post(LOGIN, credentials(password="nope", totp_code=code_now(secret, clock)))
    assert codes(wrong) == ["E005001"]
    # The right code was not spent by the refused attempt.
    assert api.post(LOGIN, credentials(totp_code=code_now(secret, clock))).status_code == 200


def test_app_that_may_not_log_users_in(api, member, policy):
    policy(apps={"login_allowed": ("ERP",)})
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E004001"]
    assert api.post(LOGIN, credentials(current_app="ERP")).status_code == 200
    # Credentials are checked before the app: a wrong password is still E005001.
    assert codes(api.post(LOGIN, credentials(password="nope"))) == ["E005001"]


def test_unknown_app_is_e004001_for_anybody(api, member):
    assert codes(api.post(LOGIN, credentials(current_app="HR"))) == ["E004001"]
    assert codes(api.post(LOGIN, credentials(username="nobody", current_app="HR"))) == ["E004001"]


def test_locked_user_gets_e005002(api, member):
    User.objects.filter(pk=member.pk).update(is_locked=True)
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E005002"]
    assert codes(api.post(LOGIN, credentials(password="nope"))) == ["E005001"]
    assert not Session.objects.exists()


def test_expired_password_gets_e003004(api, member, clock):
    User.objects.filter(pk=member.pk).update(password_expiry=clock() - timedelta(seconds=1))
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E003004"]
    assert not Session.objects.exists()


def test_password_expiring_within_warn_days_is_a_warning_with_a_session(api, member, clock):
    User.objects.filter(pk=member.pk).update(password_expiry=clock() + timedelta(days=6))
    response = api.post(LOGIN, credentials())
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warning" and body["sub_status"] == ["W003005"]
    assert body["ust"].startswith("zust") and Session.objects.count() == 1
    row = AuditEvent.objects.get(event="login")
    assert row.outcome == "ok" and row.extra_data["warnings"] == ["W003005"]


def test_password_expiring_later_than_warn_days_is_no_warning(api, member, clock, policy):
    User.objects.filter(pk=member.pk).update(password_expiry=clock() + timedelta(days=8))
    assert api.post(LOGIN, credentials()).json()["status"] == "ok"
    policy(password={"warn_days": 10})
    assert api.post(LOGIN, credentials()).json()["sub_status"] == ["W003005"]


def test_password_expiry_follows_the_clock(api, member, clock, policy):
    policy(password={"expiry_days": 30})
    ust = api.post(LOGIN, credentials()).json()["ust"]
    changed = api.call(
        "PATCH",
        "/zato/sso/user/password",
        {"ust": ust, "old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    fresh = credentials(password=NEW_PASSWORD)
    assert api.post(LOGIN, fresh).json()["status"] == "ok"
    clock.advance(days=24)
    assert api.post(LOGIN, fresh).json()["status"] == "warning"
    clock.advance(days=6, seconds=1)
    assert codes(api.post(LOGIN, fresh)) == ["E003004"]


def test_password_must_change(api, member):
    User.objects.filter(pk=member.pk).update(password_must_change=True)
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E003007"]
    assert not Session.objects.exists()

    weak = api.post(LOGIN, credentials(new_password="password"))
    assert weak.status_code == 403 and codes(weak) == ["E003001"]
    assert refresh(member).password_must_change and refresh(member).check_password(GOOD_PASSWORD)

    changed = api.post(LOGIN, credentials(new_password=NEW_PASSWORD))
    assert changed.status_code == 200 and changed.json()["status"] == "ok"
    assert not refresh(member).password_must_change
    assert api.post(LOGIN, credentials(password=NEW_PASSWORD)).status_code == 200
    assert codes(api.post(LOGIN, credentials())) == ["E005001"]
    changed_row = AuditEvent.objects.filter(event="login", outcome="ok").order_by("id").first()
    assert changed_row.extra_data["password_changed"] is True


def test_new_password_is_ignored_unless_a_change_is_due(api, member):
    assert api.post(LOGIN, credentials(new_password=NEW_PASSWORD)).status_code == 200
    assert refresh(member).check_password(GOOD_PASSWORD)


# Precedence when two conditions hold


def test_locked_is_told_before_an_expired_password(api, member, clock):
    User.objects.filter(pk=member.pk).update(
        is_locked=True, password_expiry=clock() - timedelta(days=1), password_must_change=True
    )
    assert codes(api.post(LOGIN, credentials())) == ["E005002"]


def test_totp_is_checked_before_the_lock(api, member, clock):
    secret = with_totp(api, member)
    User.objects.filter(pk=member.pk).update(is_locked=True)
    good = code_now(secret, clock)
    wrong = "000000" if good != "000000" else "111111"
    assert codes(api.post(LOGIN, credentials())) == ["E005008"]
    assert codes(api.post(LOGIN, credentials(totp_code=wrong))) == ["E005001"]
    assert codes(api.post(LOGIN, credentials(totp_code=good))) == ["E005002"]


def test_app_is_checked_before_the_lock(api, member, policy):
    User.objects.filter(pk=member.pk).update(is_locked=True)
    policy(apps={"login_allowed": ("ERP",)})
    assert codes(api.post(LOGIN, credentials())) == ["E004001"]


def test_expired_password_is_told_before_a_must_change(api, member, clock):
    User.objects.filter(pk=member.pk).update(
        password_expiry=clock() - timedelta(seconds=1), password_must_change=True
    )
    assert codes(api.post(LOGIN, credentials(new_password=NEW_PASSWORD))) == ["E003004"]
    assert refresh(member).check_password(GOOD_PASSWORD)


def test_unapproved_is_told_before_totp(api, member, clock):
    secret = with_totp(api, member)
    User.objects.filter(pk=member.pk).update(approval_status=User.Approval.PENDING)
    assert codes(api.post(LOGIN, credentials(totp_code=code_now(secret, clock)))) == ["E005004"]


# Hidden codes


def test_inform_if_locked_false_hides_the_lock_but_the_audit_keeps_it(api, member, policy):
    policy(login={"inform_if_locked": False})
    User.objects.filter(pk=member.pk).update(is_locked=True)
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E005001"]
    row = AuditEvent.objects.get(event="login")
    assert row.outcome == "error" and row.error_codes == "E005002"
    assert row.target_user_id == member.user_id


@pytest.mark.parametrize(
    ("flag", "change", "code"),
    [
        ("inform_if_not_approved", {"approval_status": "pending"}, "E005004"),
        ("inform_if_not_confirmed", {"confirmed_at": None}, "E005003"),
    ],
)
def test_other_state_codes_can_be_hidden(api, member, policy, flag, change, code):
    User.objects.filter(pk=member.pk).update(**change)
    assert codes(api.post(LOGIN, credentials())) == [code]
    policy(login={flag: False})
    assert codes(api.post(LOGIN, credentials())) == ["E005001"]
    assert AuditEvent.objects.filter(event="login").first().error_codes == code


def test_inform_if_password_expired_false(api, member, clock, policy):
    policy(login={"inform_if_password_expired": False})
    User.objects.filter(pk=member.pk).update(password_expiry=clock() - timedelta(seconds=1))
    assert codes(api.post(LOGIN, credentials())) == ["E005001"]
    assert AuditEvent.objects.get(event="login").error_codes == "E003004"


# The audit trail


def fail(api: ApiClient, username: str = "user1"):
    return api.post(LOGIN, credentials(username=username, password="not the password"))


def test_every_attempt_leaves_one_audit_row_without_the_password(api, member, clock):
    secret = with_totp(api, member)
    AuditEvent.objects.all().delete()
    attempts = [
        credentials(username="nobody"),
        credentials(password="not the password"),
        credentials(),
        credentials(totp_code="000000" if code_now(secret, clock) != "000000" else "111111"),
        credentials(totp_code=code_now(secret, clock)),
    ]
    answers = [api.post(LOGIN, body) for body in attempts]
    answers += [fail(api) for _ in range(5)]  # five from one address pause it
    answers.append(api.post(LOGIN, credentials()))  # refused while paused
    assert [r.status_code for r in answers] == [403] * 4 + [200] + [403] * 5 + [429]
    rows = list(AuditEvent.objects.filter(event="login").order_by("id"))
    assert len(rows) == len(answers) == AuditEvent.objects.count()
    assert [row.outcome for row in rows] == ["error"] * 4 + ["ok"] + ["error"] * 6
    assert [row.error_codes for row in rows] == (
        ["E005001", "E005001", "E005008", "E005009", ""] + ["E005001"] * 6
    )
    assert all(row.remote_ip == "10.23.91.177" and row.app == "CRM" for row in rows)
    assert rows[0].target_user_id == ""
    assert all(row.target_user_id == member.user_id for row in rows[1:10])
    everything = str(list(AuditEvent.objects.values()))
    assert GOOD_PASSWORD not in everything and "not the password" not in everything
    assert secret not in everything and answers[4].json()["ust"] not in everything


def test_python_api_login_counts_failures_too(db, member, policy):
    from admit.core.errors import AdmitError
    from admit.core.ratelimit import RateLimited
    from admit.sso.flows.login import LoginRequest, login

    # Without a client address only the username's own bucket counts.
    policy(rate_limits={"login_failures_per_username": (5, 300)})
    for _ in range(5):
        with pytest.raises(AdmitError):
            login(LoginRequest("user1", "wrong", "CRM"), Caller())
    with pytest.raises(RateLimited):
        login(LoginRequest("user1", GOOD_PASSWORD, "CRM"), Caller())
    assert refresh(member).failed_logins == 5


# Refused before anything is looked up: a null username, no password (Zato's E005001)


def _count_hashes(monkeypatch) -> list[int]:
    login_flow = importlib.import_module("admit.sso.flows.login")
    checked: list[int] = []
    real, real_method = login_flow.check_password, User.check_password
    monkeypatch.setattr(
        login_flow, "check_password", lambda *args: checked.append(1) or real(*args)
    )
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checked.append(1) or real_method(self, raw)
    )
    return checked


@pytest.mark.parametrize(
    "changes",
    [{"username": None}, {"password": ""}, {"password": None}, {"password": "__missing__"}],
)
def test_a_null_username_or_no_password_is_e005001_not_400_and_hashes_nothing(
    api, member, monkeypatch, changes
):
    checked = _count_hashes(monkeypatch)
    body = credentials(**changes)
    body = {key: value for key, value in body.items() if value != "__missing__"}
    response = api.post(LOGIN, body)
    assert response.status_code == 403 and codes(response) == ["E005001"]
    assert set(response.json()) == {"status", "sub_status", "cid"}
    assert checked == [] and not Session.objects.exists()
    row = AuditEvent.objects.get(event="login")
    assert row.outcome == "error" and row.error_codes == "E005001"
    assert refresh(member).failed_logins == 0


def test_a_missing_username_is_still_a_malformed_request(api, member):
    body = credentials()
    del body["username"]
    assert api.post(LOGIN, body).status_code == 400


def test_refusals_without_a_password_count_against_the_address(api, member, policy):
    policy(rate_limits={"login_failures_per_address": (2, 60)})
    for _ in range(2):
        assert codes(api.post(LOGIN, credentials(password=""))) == ["E005001"]
    assert api.post(LOGIN, credentials(username=None)).status_code == 429


# Zato's check_login_metadata_allowed: remote_addr or user_agent in the body (E006001)


@pytest.mark.parametrize("metadata", [{"remote_addr": "10.1.2.3"}, {"user_agent": "Probe/1"}])
def test_login_metadata_from_an_app_not_in_login_metadata_allowed_is_e006001(
    api, member, policy, metadata
):
    policy(apps={"login_metadata_allowed": ("ERP",)})
    refused = api.post(LOGIN, credentials(**metadata))
    assert refused.status_code == 403 and codes(refused) == ["E006001"]
    assert not Session.objects.exists()
    assert api.post(LOGIN, credentials(current_app="ERP", **metadata)).status_code == 200
    # Without metadata in the body (the User-Agent header is no metadata) CRM logs in.
    assert api.post(LOGIN, credentials(), HTTP_USER_AGENT="curl/8").status_code == 200


def test_login_metadata_is_checked_only_after_the_password(api, member, policy):
    policy(apps={"login_metadata_allowed": ()})
    wrong = api.post(LOGIN, credentials(password="not it", remote_addr="10.1.2.3"))
    assert codes(wrong) == ["E005001"]


# Zato's check_password_about_to_expire with inform_if_about_to_expire off (E003006)


def test_password_about_to_expire_refuse_is_e003006(api, member, clock, policy):
    policy(password={"about_to_expire": "refuse"})
    User.objects.filter(pk=member.pk).update(password_expiry=clock() + timedelta(days=6))
    refused = api.post(LOGIN, credentials())
    assert refused.status_code == 403 and codes(refused) == ["E003006"]
    assert not Session.objects.exists()
    User.objects.filter(pk=member.pk).update(password_expiry=clock() + timedelta(days=8))
    assert api.post(LOGIN, credentials()).json()["status"] == "ok"
