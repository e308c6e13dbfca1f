"""The approval queue: GET /zato/sso/user/signup, approve, reject (super-user only), at
admit's paths (/user/signup/approve, /user/signup/reject) and Zato's (/user/approve,
/user/reject); and confirming a sign-up by Zato's PATCH /zato/sso/user/signup."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.confirmations.models import Confirmation
from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.conftest import codes, refused, signup_body

pytestmark = pytest.mark.django_db

QUEUE = "/zato/sso/user/signup"
APPROVE = "/zato/sso/user/signup/approve"
REJECT = "/zato/sso/user/signup/reject"
ZATO_APPROVE = "/zato/sso/user/approve"
ZATO_REJECT = "/zato/sso/user/reject"
LOGIN = "/zato/sso/user/login"


def sign_up(api, name: str, confirm: bool = True) -> str:
    token = api.post(QUEUE, signup_body(username=name, email=f"{name}@example.com")).json()[
        "confirm_token"
    ]
    if confirm:
        api.post("/zato/sso/user/signup/confirm", {"confirm_token": token})
    return User.objects.get(username=name).user_id


def test_queue_lists_confirmed_signups_oldest_first(api, admin_ust, clock):
    first = sign_up(api, "first")
    clock.advance(minutes=1)
    second = sign_up(api, "second")
    sign_up(api, "unconfirmed", confirm=False)
    response = api.get(f"{QUEUE}?status=to-approve&ust={admin_ust}")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "2"
    listed = response.json()
    assert [row["user_id"] for row in listed] == [first, second]
    assert set(listed[0]) == {
        "user_id",
        "username",
        "email",
        "display_name",
        "sign_up_time",
        "remote_ip",
        "remote_addr",
    }
    assert listed[0]["username"] == "first" and listed[0]["email"] == "first@example.com"
    assert listed[0]["remote_ip"] == "10.23.91.177"
    assert len(listed[0]["sign_up_time"]) == 19 and listed[0]["sign_up_time"][10] == "T"


def test_unconfirmed_signups_are_listed_under_to_confirm_only(api, admin_ust):
    sign_up(api, "confirmed")
    waiting = sign_up(api, "unconfirmed", confirm=False)
    response = api.get(QUEUE, {"status": "to-confirm", "ust": admin_ust})
    assert [row["user_id"] for row in response.json()] == [waiting]


def test_seed_body_form_with_trailing_comma(api, admin_ust):
    sign_up(api, "pending", confirm=False)
    raw = b'{\n  "status": "to-confirm",\n  "ust":    "' + admin_ust.encode() + b'",\n}\n'
    response = api.call("GET", QUEUE, raw=raw)
    assert response.status_code == 200 and len(response.json()) == 1


def test_query_string_and_body_mix(api, admin_ust):
    sign_up(api, "pending", confirm=False)
    response = api.get(f"{QUEUE}?status=to-confirm", {"ust": admin_ust})
    assert len(response.json()) == 1


def test_empty_queue_is_an_empty_list(api, admin_ust):
    response = api.get(QUEUE, {"status": "to-approve", "ust": admin_ust})
    assert response.json() == [] and response["X-Total-Count"] == "0"


def test_paging(api, admin_ust, clock):
    ids = []
    for number in range(5):
        ids.append(sign_up(api, f"person{number}"))
        clock.advance(seconds=1)
    page2 = api.get(QUEUE, {"ust": admin_ust, "page": 2, "page_size": 2})
    assert [row["user_id"] for row in page2.json()] == ids[2:4]
    assert page2["X-Total-Count"] == "5"
    assert api.get(QUEUE, {"ust": admin_ust, "page": 4, "page_size": 2}).json() == []


@pytest.mark.parametrize(
    "params",
    [{"page": 0}, {"page_size": 101}, {"page_size": 0}, {"status": "approved"}, {"page": "two"}],
)
def test_bad_paging_is_input_invalid(api, admin_ust, params):
    response = api.get(QUEUE, {"ust": admin_ust, **params})
    assert response.status_code == 400 and codes(response) == ["E008002"]


def test_queue_needs_a_superuser(api, policy):
    policy(signup={"confirmation_required": False, "approval_required": False})
    api.post(QUEUE, signup_body())
    ust = api.post(
        "/zato/sso/user/login",
        {"username": "user1", "password": signup_body()["password"], "current_app": "CRM"},
    ).json()["ust"]
    # Zato's answer for want of rights is the generic E005001; the audit keeps E005005.
    refused(api.get(QUEUE, {"ust": ust}), "E005001")
    user_id = User.objects.get(username="user1").user_id
    for path in (APPROVE, ZATO_APPROVE, REJECT, ZATO_REJECT):
        refused(api.post(path, {"user_id": user_id, "ust": ust}), "E005001")
        refused(api.post(path, {"user_id": "zusrnobody", "ust": ust}), "E005001")
    assert User.objects.filter(user_id=user_id).exists()
    audited = AuditEvent.objects.filter(event__in=["signup.approve", "signup.reject"])
    assert {row.error_codes for row in audited} == {"E005005"} and audited.count() == 8


def test_queue_needs_a_session(api, db):
    assert codes(api.get(QUEUE, {"ust": "zust" + "0" * 32})) == ["E007001"]
    assert codes(api.get(QUEUE, {"ust": "garbage"})) == ["E007001"]
    assert codes(api.get(QUEUE)) == ["E008003"]


def test_expired_session(api, admin_ust, clock):
    clock.advance(hours=1, seconds=1)
    assert codes(api.get(QUEUE, {"ust": admin_ust})) == ["E007002"]


def test_approve_lets_the_user_log_in_and_welcomes_them(api, admin_ust, superuser):
    user_id = sign_up(api, "person")
    login = {"username": "person", "password": signup_body()["password"], "current_app": "CRM"}
    assert codes(api.post("/zato/sso/user/login", login)) == ["E005004"]
    response = api.post(APPROVE, {"user_id": user_id, "ust": admin_ust})
    assert response.status_code == 200 and set(response.json()) == {"status", "cid"}
    user = User.objects.get(user_id=user_id)
    assert user.is_approved and user.approval_status_mod_by == superuser.user_id
    assert OutgoingEmail.objects.filter(template="welcome", to="person@example.com").count() == 1
    assert api.post("/zato/sso/user/login", login).json()["ust"].startswith("zust")
    row = AuditEvent.objects.get(event="signup.approve")
    assert (row.actor_user_id, row.target_user_id, row.outcome) == (
        superuser.user_id,
        user_id,
        "ok",
    )


def test_approving_twice_sends_one_welcome(api, admin_ust):
    user_id = sign_up(api, "person")
    api.post(APPROVE, {"user_id": user_id, "ust": admin_ust})
    assert api.post(APPROVE, {"user_id": user_id, "ust": admin_ust}).status_code == 200
    assert OutgoingEmail.objects.filter(template="welcome").count() == 1


def test_unconfirmed_users_cannot_be_approved(api, admin_ust):
    user_id = sign_up(api, "person", confirm=False)
    assert codes(api.post(APPROVE, {"user_id": user_id, "ust": admin_ust})) == ["E005003"]
    assert not User.objects.get(user_id=user_id).is_approved
    assert AuditEvent.objects.get(event="signup.approve").error_codes == "E005003"


@pytest.mark.parametrize("path", [APPROVE, ZATO_APPROVE, REJECT, ZATO_REJECT])
def test_approving_or_rejecting_an_unknown_user(api, admin_ust, path):
    refused(api.post(path, {"user_id": "zusrnobody", "ust": admin_ust}), "E001100")


def test_no_welcome_when_switched_off(api, admin_ust, policy):
    policy(signup={"send_welcome_email": False})
    api.post(APPROVE, {"user_id": sign_up(api, "person"), "ust": admin_ust})
    assert not OutgoingEmail.objects.filter(template="welcome").exists()


def test_reject_deletes_the_account_and_emails_the_reason(api, admin_ust):
    user_id = sign_up(api, "person")
    reason = "Information for user why this account has been rejected"
    response = api.post(REJECT, {"user_id": user_id, "reason": reason, "ust": admin_ust})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert not User.objects.filter(user_id=user_id).exists()
    assert not Confirmation.objects.filter(object_id__in=[user_id]).exists()
    mail = OutgoingEmail.objects.get(template="rejected")
    assert mail.to == "person@example.com" and reason in mail.body_text
    row = AuditEvent.objects.get(event="signup.reject")
    assert row.target_user_id == user_id and row.extra_data["reason"] == reason


def test_rejected_person_can_sign_up_again_from_scratch(api, admin_ust):
    user_id = sign_up(api, "person")
    api.post(REJECT, {"user_id": user_id, "ust": admin_ust})
    again = api.post(QUEUE, signup_body(username="person", email="person@example.com"))
    assert again.status_code == 200
    assert User.objects.get(username="person").user_id != user_id


def test_unconfirmed_signups_can_be_rejected(api, admin_ust):
    user_id = sign_up(api, "spammer", confirm=False)
    assert api.post(REJECT, {"user_id": user_id, "ust": admin_ust}).status_code == 200
    assert not User.objects.filter(user_id=user_id).exists()


def test_approved_users_cannot_be_rejected(api, admin_ust):
    user_id = sign_up(api, "person")
    api.post(APPROVE, {"user_id": user_id, "ust": admin_ust})
    assert codes(api.post(REJECT, {"user_id": user_id, "ust": admin_ust})) == ["E005001"]
    assert User.objects.filter(user_id=user_id).exists()


def test_no_rejection_email_when_switched_off(api, admin_ust, policy):
    policy(signup={"send_rejection_email": False})
    api.post(REJECT, {"user_id": sign_up(api, "person"), "ust": admin_ust})
    assert not OutgoingEmail.objects.filter(template="rejected").exists()


def test_seed_reject_example_with_trailing_comma(api, admin_ust):
    user_id = sign_up(api, "person")
    reason = "Information for user why this account has been rejected"
    raw = f'{{\n  "user_id": "{user_id}",\n  "reason": "{reason}",\n  "ust": "{admin_ust}",\n}}\n'
    assert api.call("POST", REJECT, raw=raw.encode()).status_code == 200


# Zato's paths: PATCH /zato/sso/user/signup, POST /zato/sso/user/approve and /user/reject


def test_a_signup_is_confirmed_by_patch_as_zato_does(api, admin_ust):
    token = api.post(QUEUE, signup_body(username="person", email="person@example.com")).json()[
        "confirm_token"
    ]
    user_id = User.objects.get(username="person").user_id
    login = {"username": "person", "password": signup_body()["password"], "current_app": "CRM"}
    refused(api.post(LOGIN, login), "E005003")
    response = api.call("PATCH", QUEUE, {"confirm_token": token})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"status", "cid"}
    assert User.objects.get(user_id=user_id).is_confirmed
    # Now it waits for approval, in the to-approve queue.
    refused(api.post(LOGIN, login), "E005004")
    waiting = api.get(QUEUE, {"status": "to-approve", "ust": admin_ust}).json()
    assert [row["user_id"] for row in waiting] == [user_id]
    # A token works once, whichever method spent it.
    refused(api.call("PATCH", QUEUE, {"confirm_token": token}), "E005007")
    refused(api.post("/zato/sso/user/signup/confirm", {"confirm_token": token}), "E005007")


def test_patch_with_an_unknown_confirm_token(api, db):
    refused(api.call("PATCH", QUEUE, {"confirm_token": "zcnt" + "0" * 32}), "E005006")
    refused(api.call("PATCH", QUEUE, {}), "E008003", status=400)


def test_zatos_approve_path_lets_the_user_log_in(api, admin_ust, superuser):
    user_id = sign_up(api, "person")
    login = {"username": "person", "password": signup_body()["password"], "current_app": "CRM"}
    response = api.post(ZATO_APPROVE, {"user_id": user_id, "ust": admin_ust})
    assert response.status_code == 200 and set(response.json()) == {"status", "cid"}
    user = User.objects.get(user_id=user_id)
    assert user.approval_status == "approved"
    assert user.approval_status_mod_by == superuser.user_id
    assert OutgoingEmail.objects.filter(template="welcome", to="person@example.com").count() == 1
    assert api.post(LOGIN, login).json()["ust"].startswith("zust")
    row = AuditEvent.objects.get(event="signup.approve")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, user_id)
    # Twice is harmless, as at admit's path.
    assert api.post(ZATO_APPROVE, {"user_id": user_id, "ust": admin_ust}).status_code == 200
    assert OutgoingEmail.objects.filter(template="welcome").count() == 1


def test_zatos_approve_path_needs_a_confirmed_signup(api, admin_ust):
    user_id = sign_up(api, "person", confirm=False)
    refused(api.post(ZATO_APPROVE, {"user_id": user_id, "ust": admin_ust}), "E005003")
    assert not User.objects.get(user_id=user_id).is_approved


def test_zatos_reject_path_deletes_the_signup_and_emails_the_reason(api, admin_ust):
    user_id = sign_up(api, "person")
    reason = "Not a member of the club"
    response = api.post(ZATO_REJECT, {"user_id": user_id, "reason": reason, "ust": admin_ust})
    assert response.status_code == 200 and set(response.json()) == {"status", "cid"}
    assert not User.objects.filter(user_id=user_id).exists()
    mail = OutgoingEmail.objects.get(template="rejected")
    assert mail.to == "person@example.com" and reason in mail.body_text
    # Without a reason too (Zato sends none).
    other = sign_up(api, "other")
    assert api.post(ZATO_REJECT, {"user_id": other, "ust": admin_ust}).status_code == 200
    assert not User.objects.filter(user_id=other).exists()


def test_zatos_reject_path_refuses_approved_users(api, admin_ust):
    user_id = sign_up(api, "person")
    api.post(ZATO_APPROVE, {"user_id": user_id, "ust": admin_ust})
    refused(api.post(ZATO_REJECT, {"user_id": user_id, "ust": admin_ust}), "E005001")
    assert User.objects.filter(user_id=user_id).exists()
