"""/zato/sso/user: read, create, update, delete; /user/search; /user/lock, as Zato has them.

A regular user reads their own record's eight fields; a super-user reads every field of
anyone's. A refusal for want of rights is E005001 to the caller (E005005 in the audit log).
Each change a super-user makes is in the audit log with who did it and to whom."""

from __future__ import annotations

import json

import pytest

from admit.audit.models import AuditEvent
from admit.mail.models import OutgoingEmail
from admit.sso.models import Session, User
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, codes, make_user, refused, signup_body

pytestmark = pytest.mark.django_db

USER = "/zato/sso/user"
SEARCH = "/zato/sso/user/search"
LOCK = "/zato/sso/user/lock"
LOGIN = "/zato/sso/user/login"
PASSWORD = "/zato/sso/user/password"
SESSIONS = "/zato/sso/user/session/list"

# What a user reads of their own record (Zato's regular attributes) ...
OWN_FIELDS = {
    "username",
    "email",
    "display_name",
    "first_name",
    "middle_name",
    "last_name",
    "is_totp_enabled",
    "totp_label",
}
# ... and what a super-user reads besides (Zato's super_user_attrs).
SUPERUSER_FIELDS = {
    "user_id",
    "is_active",
    "is_approval_needed",
    "is_internal",
    "is_super_user",
    "is_locked",
    "locked_time",
    "locked_by",
    "creation_ctx",
    "approval_status",
    "approval_status_mod_by",
    "approval_status_mod_time",
    "password_is_set",
    "password_expiry",
    "password_last_set",
    "password_must_change",
    "sign_up_status",
    "sign_up_time",
    "is_rate_limit_active",
    "rate_limit_def",
}
ENVELOPE = {"status", "cid"}


def log_in(api, name: str, password: str = GOOD_PASSWORD):
    return api.post(LOGIN, {"username": name, "password": password, "current_app": "CRM"})


def ust_of(api, name: str, password: str = GOOD_PASSWORD) -> str:
    response = log_in(api, name, password)
    assert response.status_code == 200, response.content
    return response.json()["ust"]


def session_is_live(api, ust: str) -> bool:
    """Whether ``ust`` is live, as its owner learns it: by listing their own sessions."""
    response = api.get(SESSIONS, {"ust": ust})
    if response.status_code == 200:
        return True
    assert codes(response) in (["E007001"], ["E007002"]), response.content
    return False


def read(api, ust: str, user_id: str = "") -> dict:
    response = api.get(USER, {"ust": ust, "user_id": user_id} if user_id else {"ust": ust})
    assert response.status_code == 200, response.content
    return response.json()


def patch(api, ust: str, **changes):
    return api.call("PATCH", USER, {"ust": ust, **changes})


def audit(event: str, outcome: str = "ok") -> AuditEvent:
    return AuditEvent.objects.get(event=event, outcome=outcome)


def without_cid(record: dict) -> dict:
    return {name: value for name, value in record.items() if name != "cid"}


def is_timestamp(value: object) -> bool:
    return isinstance(value, str) and len(value) == 19 and value[10] == "T"


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice", display_name="Alice L.", first_name="Alice")


@pytest.fixture
def alice_ust(api, alice) -> str:
    return ust_of(api, "alice")


# GET /zato/sso/user


def test_a_regular_user_reads_only_the_regular_fields_of_their_own_record(api, alice, alice_ust):
    record = read(api, alice_ust)
    assert set(record) == ENVELOPE | OWN_FIELDS
    assert record["status"] == "ok"
    assert (record["username"], record["email"]) == ("alice", "alice@example.com")
    assert (record["display_name"], record["first_name"]) == ("Alice L.", "Alice")
    assert (record["middle_name"], record["last_name"]) == ("", "")
    assert record["is_totp_enabled"] is False and record["totp_label"] == ""
    # No user_id, no lock, approval, password or sign-up facts: Zato keeps them for super-users.
    assert not SUPERUSER_FIELDS & set(record)
    # Asking for oneself by user_id is the same as not naming anyone.
    assert without_cid(read(api, alice_ust, alice)) == without_cid(record)


def test_user_id_may_come_in_the_query_string(api, admin_ust, alice):
    response = api.get(f"{USER}?ust={admin_ust}&user_id={alice}")
    assert response.status_code == 200 and response.json()["username"] == "alice"


def test_a_superuser_reads_the_full_record_of_anyone(api, admin_ust, alice, superuser):
    record = read(api, admin_ust, alice)
    assert set(record) == ENVELOPE | OWN_FIELDS | SUPERUSER_FIELDS
    assert (record["user_id"], record["username"]) == (alice, "alice")
    assert record["is_active"] is True and record["is_approval_needed"] is False
    assert record["is_internal"] is False and record["is_super_user"] is False
    assert record["is_locked"] is False
    assert record["locked_time"] is None and record["locked_by"] is None
    assert record["approval_status"] == "approved"
    assert record["approval_status_mod_by"] == superuser.user_id
    assert is_timestamp(record["approval_status_mod_time"])
    assert record["password_is_set"] is True and is_timestamp(record["password_last_set"])
    assert record["password_expiry"] is None and record["password_must_change"] is False
    assert record["sign_up_status"] == "final" and is_timestamp(record["sign_up_time"])
    assert record["is_rate_limit_active"] is False and record["rate_limit_def"] is None
    assert json.loads(record["creation_ctx"]) == {
        "source": "create",
        "created_by": superuser.user_id,
    }
    own = read(api, admin_ust)
    assert own["user_id"] == superuser.user_id and own["is_super_user"] is True


def test_a_user_cannot_read_another_user(api, admin_ust, alice, alice_ust, superuser):
    refused(api.get(USER, {"ust": alice_ust, "user_id": superuser.user_id}), "E005001")
    # Nor can they tell which user_ids exist: the answer is the same.
    refused(api.get(USER, {"ust": alice_ust, "user_id": "zusrnobody"}), "E005001")


def test_an_unknown_user_id(api, admin_ust):
    refused(api.get(USER, {"ust": admin_ust, "user_id": "zusrnobody"}), "E005001")


def test_reading_needs_a_live_session(api, db, clock, alice_ust):
    refused(api.get(USER, {"ust": "zust" + "0" * 32}), "E007001")
    clock.advance(hours=1, seconds=1)
    refused(api.get(USER, {"ust": alice_ust}), "E007002")


# POST /zato/sso/user


def test_a_superuser_creates_a_user_who_logs_in_at_once(api, admin_ust, superuser):
    response = api.post(
        USER,
        {
            "ust": admin_ust,
            "username": "carol",
            "email": "carol@example.com",
            "password": GOOD_PASSWORD,
            "display_name": "Carol C.",
            "first_name": "Carol",
            "middle_name": "Ann",
            "last_name": "Collins",
            "totp_label": "carol's phone",
            "auto_approve": True,
        },
    )
    assert response.status_code == 200, response.content
    created = response.json()
    # The answer is the whole new record, as a super-user reads it.
    assert set(created) == ENVELOPE | OWN_FIELDS | SUPERUSER_FIELDS
    user_id = created["user_id"]
    assert user_id.startswith("zusr")
    assert (created["first_name"], created["middle_name"], created["last_name"]) == (
        "Carol",
        "Ann",
        "Collins",
    )
    assert created["display_name"] == "Carol C." and created["totp_label"] == "carol's phone"
    assert created["sign_up_status"] == "final" and created["approval_status"] == "approved"
    assert created["is_active"] is True and created["is_super_user"] is False
    assert created["password_is_set"] is True
    assert without_cid(read(api, admin_ust, user_id)) == without_cid(created)
    # No confirmation: nothing e-mailed, nothing to click.
    assert not OutgoingEmail.objects.exists()
    assert read(api, ust_of(api, "carol"))["username"] == "carol"
    user = User.objects.get(user_id=user_id)
    assert user.password.startswith("argon2$argon2id$")
    row = audit("user.create")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, user_id)
    assert GOOD_PASSWORD not in str(row.extra_data)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            {"first_name": "Carol", "middle_name": "Ann", "last_name": "Collins"},
            "Carol Ann Collins",
        ),
        ({"first_name": "Carol", "last_name": "Collins"}, "Carol Collins"),
        ({"last_name": "Collins"}, "Collins"),
        ({}, ""),
        ({"first_name": "Carol", "display_name": "  CC  "}, "CC"),
    ],
)
def test_the_display_name_defaults_to_the_names_joined(api, admin_ust, names, expected):
    user_id = make_user(api, admin_ust, "carol", **names)
    assert read(api, admin_ust, user_id)["display_name"] == expected


def test_a_user_created_without_a_password_cannot_log_in_until_given_one(api, admin_ust):
    body = {"ust": admin_ust, "username": "carol", "email": "carol@example.com"}
    response = api.post(USER, {**body, "auto_approve": True})
    assert response.status_code == 200, response.content
    created = response.json()
    assert created["password_is_set"] is False and created["password_last_set"] is None
    # Nothing the person could type gets in, not even an empty password.
    refused(log_in(api, "carol"), "E005001")
    refused(log_in(api, "carol", ""), "E005001")
    # A super-user sets one (no old password needed for somebody else's) ...
    set_by_admin = api.call(
        "PATCH",
        PASSWORD,
        {"ust": admin_ust, "user_id": created["user_id"], "new_password": GOOD_PASSWORD},
    )
    assert set_by_admin.status_code == 200, set_by_admin.content
    assert read(api, admin_ust, created["user_id"])["password_is_set"] is True
    # ... and now it works.
    assert read(api, ust_of(api, "carol"))["username"] == "carol"


def test_a_user_may_be_created_without_an_email_address(api, admin_ust):
    first = make_user(api, admin_ust, "carol", email="")
    response = api.post(
        USER,
        {"ust": admin_ust, "username": "dave", "password": GOOD_PASSWORD, "auto_approve": True},
    )
    assert response.status_code == 200, response.content
    # Two accounts without an address do not collide over the empty one.
    second = response.json()["user_id"]
    assert (
        read(api, admin_ust, first)["email"] == "" and read(api, admin_ust, second)["email"] == ""
    )
    assert read(api, ust_of(api, "dave"))["email"] == ""


def test_without_auto_approve_the_user_waits_for_approval(api, admin_ust):
    user_id = make_user(api, admin_ust, "carol", auto_approve=False)
    record = read(api, admin_ust, user_id)
    assert record["approval_status"] == "before_decision" and record["is_approval_needed"]
    assert record["sign_up_status"] == "to_approve" and record["is_active"] is False
    refused(log_in(api, "carol"), "E005004")
    # Confirmed already: the user is in the approval queue, not the confirmation one.
    waiting = api.get("/zato/sso/user/signup", {"status": "to-approve", "ust": admin_ust}).json()
    assert [row["user_id"] for row in waiting] == [user_id]
    api.post("/zato/sso/user/approve", {"user_id": user_id, "ust": admin_ust})
    assert log_in(api, "carol").status_code == 200


def test_is_superuser_is_not_accepted_by_rest(api, admin_ust, alice):
    # Zato's REST creates no super-users: the field is ignored, not honoured, nor an error.
    user_id = make_user(api, admin_ust, "deputy", is_superuser=True)
    assert read(api, admin_ust, user_id)["is_super_user"] is False
    assert not User.objects.get(user_id=user_id).is_superuser
    deputy = ust_of(api, "deputy")
    assert set(read(api, deputy)) == ENVELOPE | OWN_FIELDS
    refused(api.get(USER, {"ust": deputy, "user_id": alice}), "E005001")


def test_creation_takes_zatos_status_fields(api, admin_ust, superuser):
    user_id = make_user(
        api, admin_ust, "carol", is_locked=True, password_must_change=True, totp_label="phone"
    )
    record = read(api, admin_ust, user_id)
    assert record["is_locked"] is True and record["locked_by"] == superuser.user_id
    assert is_timestamp(record["locked_time"]) and record["is_active"] is False
    assert record["password_must_change"] is True and record["totp_label"] == "phone"
    refused(log_in(api, "carol"), "E005002")


def test_a_created_user_can_be_made_to_change_the_password(api, admin_ust):
    make_user(api, admin_ust, "carol", password_must_change=True)
    refused(log_in(api, "carol"), "E003007")


def test_a_created_user_may_start_before_confirmation(api, admin_ust):
    user_id = make_user(api, admin_ust, "carol", sign_up_status="before_confirmation")
    assert read(api, admin_ust, user_id)["sign_up_status"] == "before_confirmation"
    refused(log_in(api, "carol"), "E005003")


def test_a_totp_key_given_at_creation_must_be_strong_base32(api, admin_ust):
    body = {"ust": admin_ust, "username": "carol", "password": GOOD_PASSWORD}
    refused(api.post(USER, {**body, "totp_key": "JBSWY3DPEHPK3PXP"}), "E008002", status=400)
    assert not User.objects.filter(username="carol").exists()
    key = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    user_id = make_user(api, admin_ust, "carol", totp_key=key, is_totp_enabled=True)
    assert read(api, admin_ust, user_id)["is_totp_enabled"] is True
    refused(log_in(api, "carol"), "E005008")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"username": "car ol"}, ["E001004"]),
        ({"email": "not-an-address"}, ["E002001"]),
        ({"password": "password123"}, ["E003001"]),
        ({"password": "short"}, ["E003002"]),
        ({"username": "ALICE"}, ["E001002"]),
        ({"email": "Alice@Example.com"}, ["E002002"]),
        (
            {"username": "car ol", "email": "nope", "password": "password123"},
            ["E001004", "E002001", "E003001"],
        ),
        # Taken names are told with the rest, not once the rest is fixed.
        ({"username": "ALICE", "password": "password123"}, ["E001002", "E003001"]),
        (
            {"username": "alice", "email": "ALICE@example.com", "password": "short"},
            ["E001002", "E002002", "E003002"],
        ),
    ],
)
def test_creation_applies_the_validation_rules(api, admin_ust, alice, changes, expected):
    body = {
        "ust": admin_ust,
        "username": "carol",
        "email": "carol@example.com",
        "password": GOOD_PASSWORD,
        "auto_approve": True,
        **changes,
    }
    refused(api.post(USER, body), *expected)
    assert User.objects.count() == 2  # boss and alice
    assert audit("user.create", "error").error_codes == ",".join(expected)


def test_reserved_words_are_allowed_for_operator_created_users(api, admin_ust):
    # They keep sign-ups from impersonating operators, not operators from naming accounts.
    refused(api.post("/zato/sso/user/signup", signup_body(username="admin")), "E001001")
    make_user(api, admin_ust, "admin", email="admin@example.com")
    make_user(api, admin_ust, "root-ops", email="root@example.com")
    assert log_in(api, "admin").status_code == 200


def test_only_a_superuser_creates_users(api, alice_ust):
    body = {"ust": alice_ust, "username": "carol", "email": "carol@example.com"}
    refused(api.post(USER, {**body, "password": GOOD_PASSWORD}), "E005001")
    assert not User.objects.filter(username="carol").exists()
    # The audit log keeps the true reason.
    assert audit("user.create", "error").error_codes == "E005005"


# PATCH /zato/sso/user


def test_a_user_changes_their_own_names(api, alice, alice_ust):
    changes = {
        "display_name": "Queen Alice",
        "first_name": "Alicia",
        "middle_name": "P.",
        "last_name": "Liddell",
    }
    response = patch(api, alice_ust, **changes)
    assert response.status_code == 200, response.content
    assert set(response.json()) == ENVELOPE and response.json()["status"] == "ok"
    record = read(api, alice_ust)
    assert {name: record[name] for name in changes} == changes
    row = audit("user.update")
    assert (row.actor_user_id, row.target_user_id) == (alice, alice)
    assert row.extra_data["fields"] == sorted(changes)


def test_fields_left_out_are_left_alone(api, alice, alice_ust):
    patch(api, alice_ust, last_name="Liddell")
    record = read(api, alice_ust)
    assert (record["display_name"], record["first_name"], record["last_name"]) == (
        "Alice L.",
        "Alice",
        "Liddell",
    )


def test_a_user_changes_their_own_username_at_once(api, alice, alice_ust):
    response = patch(api, alice_ust, username="alicia")
    assert response.status_code == 200, response.content
    assert read(api, alice_ust)["username"] == "alicia"
    assert session_is_live(api, alice_ust)
    # The new name logs in; the old one is free and no longer anybody's.
    assert log_in(api, "alicia").status_code == 200
    refused(log_in(api, "alice"), "E005001")
    admin_ust = ust_of(api, "boss", ADMIN_PASSWORD)
    assert make_user(api, admin_ust, "alice", email="alice2@example.com") != alice


def test_a_users_own_new_email_waits_for_its_link(api, alice, alice_ust):
    # [user] confirm_email_change (on by default): tests/sso/test_zato_email_rules.py follows
    # the link; here, only that the address is not changed by the PATCH alone.
    assert patch(api, alice_ust, email="alicia@example.com").status_code == 200
    assert read(api, alice_ust)["email"] == "alice@example.com"
    assert OutgoingEmail.objects.filter(to="alicia@example.com").count() == 1


def test_a_users_own_new_email_at_once_as_zato_does(api, alice, alice_ust, policy):
    policy(user={"confirm_email_change": False})
    assert patch(api, alice_ust, email="alicia@example.com").status_code == 200
    assert read(api, alice_ust)["email"] == "alicia@example.com"
    assert not OutgoingEmail.objects.filter(to="alicia@example.com").exists()


def test_a_new_username_must_be_free_and_follow_the_rules(api, admin_ust, alice, alice_ust):
    make_user(api, admin_ust, "bob")
    for username, expected in (
        ("BOB", "E001002"),
        ("boss", "E001002"),
        ("al ice", "E001004"),
        ("x" * 129, None),
    ):
        response = patch(api, alice_ust, username=username)
        if expected is None:
            assert response.status_code in (400, 403), response.content
        else:
            refused(response, expected)
    assert read(api, alice_ust)["username"] == "alice"
    assert log_in(api, "alice").status_code == 200
    # A super-user renaming somebody is held to the same uniqueness.
    refused(patch(api, admin_ust, user_id=alice, username="Bob"), "E001002")


def test_a_taken_username_and_a_bad_address_are_told_together(api, admin_ust, alice, policy):
    policy(user={"confirm_email_change": False})
    make_user(api, admin_ust, "bob")
    refused(
        patch(api, admin_ust, user_id=alice, username="BOB", email="nope"), "E001002", "E002001"
    )
    refused(
        patch(api, admin_ust, user_id=alice, username="al ice", email="bob@example.com"),
        "E001004",
        "E002002",
    )
    assert read(api, admin_ust, alice)["username"] == "alice"


def test_a_user_cannot_change_super_user_fields(api, admin_ust, alice, alice_ust):
    for change in (
        {"is_locked": True},
        {"approval_status": "before_decision"},
        {"password_must_change": True},
        {"sign_up_status": "before_confirmation"},
        {"password_expiry": "2099-01-01T00:00:00+00:00"},
        {"display_name": "fine", "is_locked": False},
    ):
        before = read(api, admin_ust, alice)
        refused(patch(api, alice_ust, **change), "E005001")
        assert without_cid(read(api, admin_ust, alice)) == without_cid(before), change
        assert session_is_live(api, alice_ust)
    assert AuditEvent.objects.filter(event="user.update", error_codes="E005005").count() == 6


def test_a_user_cannot_change_another_user(api, alice_ust, superuser, admin_ust):
    body = {"user_id": superuser.user_id, "display_name": "pwned"}
    refused(patch(api, alice_ust, **body), "E005001")
    # An id that does not exist gets the same answer.
    refused(patch(api, alice_ust, user_id="zusrnobody", display_name="x"), "E005001")
    assert read(api, admin_ust)["display_name"] == ""


def test_a_superuser_changes_another_users_email(api, admin_ust, alice, superuser):
    response = patch(api, admin_ust, user_id=alice, email="a@corp.test")
    assert response.status_code == 200, response.content
    assert read(api, admin_ust, alice)["email"] == "a@corp.test"
    row = audit("user.update")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, alice)
    assert row.extra_data["fields"] == ["email"]


def test_a_new_email_is_validated_and_must_be_free(api, admin_ust, alice, alice_ust, policy):
    policy(user={"confirm_email_change": False})
    make_user(api, admin_ust, "bob")
    for email, expected in (
        ("no at sign", "E002004"),
        ("nope", "E002001"),
        ("BOB@example.com", "E002002"),
        ("boss@example.com", "E002002"),
    ):
        refused(patch(api, admin_ust, user_id=alice, email=email), expected)
        refused(patch(api, alice_ust, email=email), expected)
    assert read(api, admin_ust, alice)["email"] == "alice@example.com"


def test_an_owner_is_not_told_that_an_address_is_taken(api, admin_ust, alice, alice_ust):
    # With the link to confirm, the PATCH cannot say whether an address has an account;
    # the format is still judged at once.
    make_user(api, admin_ust, "bob")
    refused(patch(api, alice_ust, email="nope"), "E002001")
    # With a taken username, the answer is the same for a taken and a fresh address.
    refused(patch(api, alice_ust, username="bob", email="BOB@example.com"), "E001002")
    refused(patch(api, alice_ust, username="bob", email="fresh@example.com"), "E001002")
    assert patch(api, alice_ust, email="BOB@example.com").status_code == 200
    assert read(api, admin_ust, alice)["email"] == "alice@example.com"
    assert read(api, admin_ust, User.objects.get(username="bob").user_id)["email"] == (
        "bob@example.com"
    )


def test_an_empty_change_is_input_missing(api, admin_ust, alice, alice_ust):
    refused(patch(api, alice_ust), "E008003", status=403)
    refused(patch(api, admin_ust, user_id=alice), "E008003", status=403)


def test_a_superuser_unapproves_and_approves_again(api, admin_ust, alice, superuser):
    assert (
        patch(api, admin_ust, user_id=alice, approval_status="before_decision").status_code == 200
    )
    record = read(api, admin_ust, alice)
    assert record["approval_status"] == "before_decision" and record["is_approval_needed"]
    refused(log_in(api, "alice"), "E005004")
    patch(api, admin_ust, user_id=alice, approval_status="approved")
    record = read(api, admin_ust, alice)
    assert record["approval_status"] == "approved"
    assert record["approval_status_mod_by"] == superuser.user_id
    assert log_in(api, "alice").status_code == 200


def test_rejecting_through_patch_is_an_invalid_operation(api, admin_ust, alice):
    # A rejected sign-up is deleted: that is POST /zato/sso/user/reject's work.
    refused(patch(api, admin_ust, user_id=alice, approval_status="rejected"), "E008001")
    assert read(api, admin_ust, alice)["approval_status"] == "approved"


def test_sign_up_status_transitions_through_patch(api, admin_ust):
    user_id = make_user(api, admin_ust, "carol", auto_approve=False)
    assert read(api, admin_ust, user_id)["sign_up_status"] == "to_approve"

    patch(api, admin_ust, user_id=user_id, sign_up_status="before_confirmation")
    assert read(api, admin_ust, user_id)["sign_up_status"] == "before_confirmation"
    refused(log_in(api, "carol"), "E005003")

    patch(api, admin_ust, user_id=user_id, sign_up_status="to_approve")
    assert read(api, admin_ust, user_id)["sign_up_status"] == "to_approve"
    refused(log_in(api, "carol"), "E005004")

    patch(api, admin_ust, user_id=user_id, approval_status="approved")
    assert read(api, admin_ust, user_id)["sign_up_status"] == "final"
    assert log_in(api, "carol").status_code == 200

    # Back before confirmation: an approved user who has not confirmed cannot log in.
    patch(api, admin_ust, user_id=user_id, sign_up_status="before_confirmation")
    refused(log_in(api, "carol"), "E005003")
    patch(api, admin_ust, user_id=user_id, sign_up_status="final")
    assert read(api, admin_ust, user_id)["sign_up_status"] == "final"
    assert log_in(api, "carol").status_code == 200


@pytest.mark.parametrize("status", ["confirmed", "to-approve", "rejected", ""])
def test_an_unknown_sign_up_status_is_input_invalid(api, admin_ust, alice, status):
    refused(patch(api, admin_ust, user_id=alice, sign_up_status=status), "E008002", status=400)


def test_locking_through_patch_ends_the_users_sessions(api, admin_ust, alice, alice_ust):
    other = ust_of(api, "alice")
    response = patch(api, admin_ust, user_id=alice, is_locked=True)
    assert response.status_code == 200, response.content
    assert not session_is_live(api, alice_ust) and not session_is_live(api, other)
    assert read(api, admin_ust, alice)["is_locked"] is True
    refused(log_in(api, "alice"), "E005002")
    patch(api, admin_ust, user_id=alice, is_locked=False)
    assert log_in(api, "alice").status_code == 200
    assert session_is_live(api, admin_ust)  # the super-user's own session is untouched


def test_a_superuser_sets_password_must_change_and_expiry(api, admin_ust, alice):
    response = patch(
        api,
        admin_ust,
        user_id=alice,
        password_must_change=True,
        password_expiry="2099-06-01T12:00:00+02:00",
    )
    assert response.status_code == 200, response.content
    record = read(api, admin_ust, alice)
    assert record["password_must_change"] is True
    assert record["password_expiry"] == "2099-06-01T10:00:00"
    refused(log_in(api, "alice"), "E003007")


@pytest.mark.parametrize("expiry", ["2099-06-01T12:00:00", "next week", 30])
def test_password_expiry_through_patch_needs_an_offset(api, admin_ust, alice, expiry):
    refused(patch(api, admin_ust, user_id=alice, password_expiry=expiry), "E008002", status=400)


@pytest.mark.parametrize(
    "change",
    [
        {"is_locked": True},
        {"approval_status": "before_decision"},
        {"sign_up_status": "before_confirmation"},
    ],
)
def test_a_superuser_cannot_shut_themselves_out_through_patch(api, admin_ust, superuser, change):
    refused(patch(api, admin_ust, **change), "E008001")
    refused(patch(api, admin_ust, user_id=superuser.user_id, **change), "E008001")
    record = read(api, admin_ust)
    assert record["approval_status"] == "approved" and not record["is_locked"]
    assert record["sign_up_status"] == "final"
    assert log_in(api, "boss", ADMIN_PASSWORD).status_code == 200


def test_patching_an_unknown_user(api, admin_ust):
    refused(patch(api, admin_ust, user_id="zusrnobody", display_name="x"), "E001100")


# DELETE /zato/sso/user


def test_a_superuser_deletes_a_user_and_their_sessions(api, admin_ust, alice, alice_ust, superuser):
    response = api.call("DELETE", USER, {"ust": admin_ust, "user_id": alice})
    assert response.status_code == 200, response.content
    assert set(response.json()) == ENVELOPE
    assert not User.objects.filter(user_id=alice).exists()
    assert not Session.objects.filter(user__user_id=alice).exists()
    assert not session_is_live(api, alice_ust)
    refused(api.get(USER, {"ust": admin_ust, "user_id": alice}), "E005001")
    refused(log_in(api, "alice"), "E005001")
    row = audit("user.delete")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, alice)
    # The name and address are free again.
    assert make_user(api, admin_ust, "alice") != alice


def test_a_superuser_cannot_delete_themselves(api, admin_ust, superuser):
    body = {"ust": admin_ust, "user_id": superuser.user_id}
    refused(api.call("DELETE", USER, body), "E008001")
    assert User.objects.filter(pk=superuser.pk).exists() and session_is_live(api, admin_ust)


def test_only_a_superuser_deletes(api, alice, alice_ust, superuser, admin_ust):
    bob = make_user(api, admin_ust, "bob")
    refused(api.call("DELETE", USER, {"ust": alice_ust, "user_id": bob}), "E005001")
    refused(api.call("DELETE", USER, {"ust": alice_ust, "user_id": alice}), "E005001")
    assert User.objects.count() == 3
    assert AuditEvent.objects.filter(event="user.delete", error_codes="E005005").count() == 2


def test_deleting_an_unknown_user(api, admin_ust):
    refused(api.call("DELETE", USER, {"ust": admin_ust, "user_id": "zusrnobody"}), "E008001")


# GET and POST /zato/sso/user/search


@pytest.fixture
def people(api, admin_ust, clock) -> dict[str, str]:
    """Five users made one second apart (boss, the super-user, is older than all)."""
    made = {}
    for name, first, middle, last in (
        ("alice", "Alice", "Pleasance", "Liddell"),
        ("alfred", "Alfred", "Joseph", "Hitchcock"),
        ("bob", "Robert", "", "Smith"),
        ("carol", "Carol", "Ann", "Smithers"),
        ("dave", "David", "", "Jones"),
    ):
        clock.advance(seconds=1)
        made[name] = make_user(
            api,
            admin_ust,
            name,
            first_name=first,
            middle_name=middle,
            last_name=last,
            email=f"{name}@{'corp' if name in ('bob', 'carol') else 'example'}.com",
        )
    return made


def search(api, ust: str, **criteria) -> dict:
    response = api.post(SEARCH, {"ust": ust, **criteria})
    assert response.status_code == 200, response.content
    return response.json()


def search_by_get(api, ust: str, **criteria) -> dict:
    def text(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    query = "&".join(f"{name}={text(value)}" for name, value in {"ust": ust, **criteria}.items())
    response = api.get(f"{SEARCH}?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def names(found: dict) -> list[str]:
    return [row["username"] for row in found["result"]]


PAGE_FIELDS = {
    "total",
    "num_pages",
    "page_size",
    "cur_page",
    "has_next_page",
    "has_prev_page",
    "next_page",
    "prev_page",
    "result",
}


@pytest.mark.parametrize("find", [search, search_by_get])
def test_search_answers_full_records_and_zatos_paging_fields(api, admin_ust, people, find):
    found = find(api, admin_ust, username="ALICE")
    assert set(found) == ENVELOPE | PAGE_FIELDS
    assert names(found) == ["alice"] and found["total"] == 1
    (row,) = found["result"]
    assert set(row) == OWN_FIELDS | SUPERUSER_FIELDS
    assert row["user_id"] == people["alice"] and row["middle_name"] == "Pleasance"
    assert (found["num_pages"], found["page_size"], found["cur_page"]) == (1, 50, 1)
    assert (found["has_next_page"], found["has_prev_page"]) == (False, False)
    assert (found["next_page"], found["prev_page"]) == (None, None)


@pytest.mark.parametrize("find", [search, search_by_get])
def test_usernames_and_user_ids_are_exact_and_win_over_other_criteria(api, admin_ust, people, find):
    assert names(find(api, admin_ust, username="al")) == []
    assert names(find(api, admin_ust, username="al", is_name_exact=False)) == []
    assert names(find(api, admin_ust, user_id=people["carol"])) == ["carol"]
    # A user_id or username names one user: the other criteria are not looked at ...
    assert names(find(api, admin_ust, username="carol", last_name="Jones")) == ["carol"]
    # ... and user_id wins over username.
    assert names(find(api, admin_ust, user_id=people["bob"], username="carol")) == ["bob"]


def test_email_is_exact_but_case_insensitive(api, admin_ust, people):
    assert names(search(api, admin_ust, email="BOB@corp.com")) == ["bob"]
    assert names(search(api, admin_ust, email="@corp.com")) == []
    assert names(search(api, admin_ust, email="@corp.com", is_name_exact=False)) == []


def test_names_match_whole_values_by_default(api, admin_ust, people):
    assert names(search(api, admin_ust, first_name="robert")) == ["bob"]
    assert names(search(api, admin_ust, last_name="Smith")) == ["bob"]
    assert names(search(api, admin_ust, middle_name="ann")) == ["carol"]
    assert names(search(api, admin_ust, display_name="david jones")) == ["dave"]
    assert names(search(api, admin_ust, last_name="smi")) == []


@pytest.mark.parametrize("find", [search, search_by_get])
def test_names_match_anywhere_when_not_exact(api, admin_ust, people, find):
    found = find(api, admin_ust, last_name="smith", is_name_exact=False)
    assert names(found) == ["bob", "carol"]
    assert names(find(api, admin_ust, first_name="AL", is_name_exact=False)) == [
        "alice",
        "alfred",
    ]
    # Wildcards of SQL match themselves only.
    assert names(find(api, admin_ust, first_name="%", is_name_exact=False)) == []
    assert names(find(api, admin_ust, first_name="_", is_name_exact=False)) == []


def test_name_op_combines_the_names(api, admin_ust, people):
    both = {"first_name": "Robert", "last_name": "Smithers"}
    assert names(search(api, admin_ust, **both)) == []  # "and" is the default
    assert names(search(api, admin_ust, **both, name_op="and")) == []
    assert names(search(api, admin_ust, **both, name_op="or")) == ["bob", "carol"]
    loose = {"first_name": "al", "last_name": "smith", "is_name_exact": False}
    assert names(search(api, admin_ust, **loose, name_op="or")) == [
        "alice",
        "alfred",
        "bob",
        "carol",
    ]
    assert names(search(api, admin_ust, **loose, name_op="and")) == []
    get = search_by_get(api, admin_ust, first_name="Robert", last_name="Smithers", name_op="or")
    assert names(get) == ["bob", "carol"]


def test_other_criteria_are_combined_with_the_names(api, admin_ust, people):
    loose = {"last_name": "smith", "is_name_exact": False}
    assert names(search(api, admin_ust, **loose, email="carol@corp.com")) == ["carol"]
    assert names(search(api, admin_ust, last_name="Smith", email="carol@corp.com")) == []


def test_search_by_sign_up_and_approval_status(api, admin_ust, people, clock):
    clock.advance(seconds=1)
    api.post("/zato/sso/user/signup", signup_body(username="newbie", email="newbie@example.com"))
    clock.advance(seconds=1)
    make_user(api, admin_ust, "waiting", auto_approve=False)
    assert names(search(api, admin_ust, sign_up_status="before_confirmation")) == ["newbie"]
    assert names(search(api, admin_ust, sign_up_status="to_approve")) == ["waiting"]
    final = names(search(api, admin_ust, sign_up_status="final"))
    assert final == ["boss", "alice", "alfred", "bob", "carol", "dave"]
    assert names(search(api, admin_ust, approval_status="before_decision")) == ["newbie", "waiting"]
    assert names(search_by_get(api, admin_ust, approval_status="before_decision")) == [
        "newbie",
        "waiting",
    ]
    approved = names(search(api, admin_ust, approval_status="approved"))
    assert approved == final
    pending = search(api, admin_ust, username="newbie")["result"][0]
    assert pending["sign_up_status"] == "before_confirmation"
    assert pending["approval_status"] == "before_decision" and pending["is_approval_needed"]


def test_search_pages(api, admin_ust, people):
    first = search(api, admin_ust, page_size=2)
    assert names(first) == ["boss", "alice"]
    assert (first["total"], first["num_pages"], first["cur_page"]) == (6, 3, 1)
    assert first["page_size"] == 2
    assert (first["has_next_page"], first["has_prev_page"]) == (True, False)
    assert (first["next_page"], first["prev_page"]) == (2, None)

    second = search(api, admin_ust, page_size=2, cur_page=2)
    assert names(second) == ["alfred", "bob"]
    assert (second["has_next_page"], second["has_prev_page"]) == (True, True)
    assert (second["next_page"], second["prev_page"]) == (3, 1)

    last = search_by_get(api, admin_ust, page_size=2, cur_page=3)
    assert names(last) == ["carol", "dave"]
    assert (last["has_next_page"], last["has_prev_page"]) == (False, True)
    assert (last["next_page"], last["prev_page"]) == (None, 2)

    beyond = search(api, admin_ust, page_size=2, cur_page=4)
    assert beyond["result"] == [] and beyond["total"] == 6

    loose = {"first_name": "a", "is_name_exact": False}
    filtered = search(api, admin_ust, **loose, page_size=2)
    assert filtered["total"] == 4 and filtered["num_pages"] == 2  # alice alfred carol david


@pytest.mark.parametrize(
    ("paging", "page_size", "cur_page"),
    [
        ({"cur_page": 0}, 50, 1),
        ({"cur_page": -3}, 50, 1),
        ({"page_size": 0}, 50, 1),
        ({"page_size": -1}, 50, 1),
        ({"page_size": 101}, 100, 1),
        ({"page_size": 5000}, 100, 1),
    ],
)
def test_paging_out_of_range_is_brought_into_range(
    api, admin_ust, people, paging, page_size, cur_page
):
    found = search(api, admin_ust, **paging)
    assert (found["page_size"], found["cur_page"]) == (page_size, cur_page)
    assert found["total"] == 6 and len(found["result"]) == 6


def test_without_paginate_everything_comes_on_one_page(api, admin_ust, people):
    found = search(api, admin_ust, paginate=False, page_size=2, cur_page=3)
    assert names(found) == ["boss", "alice", "alfred", "bob", "carol", "dave"]
    assert (found["cur_page"], found["num_pages"], found["has_next_page"]) == (1, 1, False)
    assert found["page_size"] == 1000
    assert names(search_by_get(api, admin_ust, paginate=False, page_size=2)) == names(found)


def test_search_with_no_match(api, admin_ust, people):
    found = search(api, admin_ust, username="nobody")
    assert found["result"] == [] and found["total"] == 0
    assert (found["has_next_page"], found["has_prev_page"], found["next_page"]) == (
        False,
        False,
        None,
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"approval_status": "rejected"},
        {"sign_up_status": "maybe"},
        {"sign_up_status": "to-confirm"},
        {"name_op": "xor"},
        {"is_name_exact": "no"},
        {"paginate": "no"},
        {"cur_page": "two"},
        {"username": 5},
    ],
)
def test_bad_search_input(api, admin_ust, bad):
    refused(api.post(SEARCH, {"ust": admin_ust, **bad}), "E008002", status=400)


def test_only_a_superuser_searches(api, alice_ust):
    refused(api.post(SEARCH, {"ust": alice_ust, "username": "alice"}), "E005001")
    refused(api.get(f"{SEARCH}?ust={alice_ust}&username=alice"), "E005001")


# POST / DELETE /zato/sso/user/lock


def test_lock_and_unlock(api, admin_ust, alice, alice_ust, superuser):
    response = api.post(LOCK, {"ust": admin_ust, "user_id": alice})
    assert response.status_code == 200, response.content
    assert set(response.json()) == ENVELOPE
    assert not session_is_live(api, alice_ust)
    # The state is told only to whoever gives the right password.
    refused(log_in(api, "alice"), "E005002")
    refused(log_in(api, "alice", "not her password"), "E005001")
    record = read(api, admin_ust, alice)
    assert record["is_locked"] and record["locked_by"] == superuser.user_id
    assert is_timestamp(record["locked_time"])
    row = audit("user.lock")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, alice)

    response = api.call("DELETE", LOCK, {"ust": admin_ust, "user_id": alice})
    assert response.status_code == 200, response.content
    assert log_in(api, "alice").status_code == 200
    assert read(api, admin_ust, alice)["is_locked"] is False
    row = audit("user.unlock")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, alice)


def test_locking_twice_and_unlocking_an_unlocked_user_are_harmless(api, admin_ust, alice):
    assert api.post(LOCK, {"ust": admin_ust, "user_id": alice}).status_code == 200
    assert api.post(LOCK, {"ust": admin_ust, "user_id": alice}).status_code == 200
    assert api.call("DELETE", LOCK, {"ust": admin_ust, "user_id": alice}).status_code == 200
    assert api.call("DELETE", LOCK, {"ust": admin_ust, "user_id": alice}).status_code == 200
    assert log_in(api, "alice").status_code == 200


def test_a_superuser_cannot_lock_themselves(api, admin_ust, superuser):
    refused(api.post(LOCK, {"ust": admin_ust, "user_id": superuser.user_id}), "E008001")
    assert session_is_live(api, admin_ust)
    assert not User.objects.get(pk=superuser.pk).is_locked
    assert audit("user.lock", "error").error_codes == "E008001"


def test_only_a_superuser_locks(api, admin_ust, alice, alice_ust, superuser):
    refused(api.post(LOCK, {"ust": alice_ust, "user_id": superuser.user_id}), "E005001")
    refused(api.call("DELETE", LOCK, {"ust": alice_ust, "user_id": alice}), "E005001")
    assert session_is_live(api, admin_ust)
    assert audit("user.lock", "error").error_codes == "E005005"


def test_locking_an_unknown_user(api, admin_ust):
    refused(api.post(LOCK, {"ust": admin_ust, "user_id": "zusrnobody"}), "E001100")
    refused(api.call("DELETE", LOCK, {"ust": admin_ust, "user_id": "zusrnobody"}), "E001100")
