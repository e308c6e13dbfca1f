"""/zato/sso/user: read, create, update, delete; /user/search; /user/lock.

Each change a super-user makes is in the audit log with who did it and to whom."""

from __future__ import annotations

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
SESSIONS = "/zato/sso/user/session/list"

USER_FIELDS = {
    "status",
    "cid",
    "user_id",
    "username",
    "email",
    "display_name",
    "first_name",
    "middle_name",
    "last_name",
    "sign_up_time",
    "is_confirmed",
    "is_approved",
    "is_locked",
    "is_superuser",
    "is_totp_enabled",
    "password_expiry",
    "password_must_change",
    "app_list",
}


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


def audit(event: str, outcome: str = "ok") -> AuditEvent:
    return AuditEvent.objects.get(event=event, outcome=outcome)


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice", display_name="Alice L.", first_name="Alice")


@pytest.fixture
def alice_ust(api, alice) -> str:
    return ust_of(api, "alice")


# GET /zato/sso/user


def test_a_user_reads_their_own_record(api, alice, alice_ust):
    record = read(api, alice_ust)
    assert set(record) == USER_FIELDS
    assert record["status"] == "ok"
    assert record["user_id"] == alice
    assert (record["username"], record["email"]) == ("alice", "alice@example.com")
    assert (record["display_name"], record["first_name"]) == ("Alice L.", "Alice")
    assert record["is_confirmed"] and record["is_approved"]
    assert not record["is_locked"] and not record["is_superuser"] and not record["is_totp_enabled"]
    assert record["password_expiry"] is None and record["password_must_change"] is False
    assert len(record["sign_up_time"]) == 19 and record["sign_up_time"][10] == "T"
    # Asking for oneself by user_id is the same as not naming anyone.
    assert read(api, alice_ust, alice)["user_id"] == alice


def test_user_id_may_come_in_the_query_string(api, admin_ust, alice):
    response = api.get(f"{USER}?ust={admin_ust}&user_id={alice}")
    assert response.status_code == 200 and response.json()["username"] == "alice"


def test_a_superuser_reads_anyone(api, admin_ust, alice, superuser):
    assert read(api, admin_ust, alice)["username"] == "alice"
    own = read(api, admin_ust)
    assert own["user_id"] == superuser.user_id and own["is_superuser"] is True


def test_a_user_cannot_read_another_user(api, admin_ust, alice, alice_ust, superuser):
    refused(api.get(USER, {"ust": alice_ust, "user_id": superuser.user_id}), "E005005")
    # Nor can they tell which user_ids exist.
    refused(api.get(USER, {"ust": alice_ust, "user_id": "zusrnobody"}), "E005005")


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
            "auto_approve": True,
        },
    )
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"status", "cid", "user_id"}
    user_id = response.json()["user_id"]
    assert user_id.startswith("zusr")
    # No confirmation: nothing e-mailed, nothing to click.
    assert not OutgoingEmail.objects.exists()
    ust = ust_of(api, "carol")
    record = read(api, ust)
    assert record["user_id"] == user_id
    assert (record["first_name"], record["middle_name"], record["last_name"]) == (
        "Carol",
        "Ann",
        "Collins",
    )
    assert record["display_name"] == "Carol C."
    assert record["is_confirmed"] and record["is_approved"] and not record["is_superuser"]
    user = User.objects.get(user_id=user_id)
    assert user.approval_status_mod_time is not None
    assert user.password.startswith("argon2$argon2id$")
    row = audit("user.create")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, user_id)
    assert GOOD_PASSWORD not in str(row.extra_data)


def test_without_auto_approve_the_user_waits_for_approval(api, admin_ust):
    user_id = make_user(api, admin_ust, "carol", auto_approve=False)
    refused(log_in(api, "carol"), "E005004")
    # Confirmed already: the user is in the approval queue, not the confirmation one.
    waiting = api.get("/zato/sso/user/signup", {"status": "to-approve", "ust": admin_ust}).json()
    assert [row["user_id"] for row in waiting] == [user_id]
    api.post("/zato/sso/user/signup/approve", {"user_id": user_id, "ust": admin_ust})
    assert log_in(api, "carol").status_code == 200


def test_is_superuser_is_honoured(api, admin_ust, alice):
    make_user(api, admin_ust, "deputy", is_superuser=True)
    deputy = ust_of(api, "deputy")
    assert read(api, deputy)["is_superuser"] is True
    assert read(api, deputy, alice)["username"] == "alice"
    assert make_user(api, deputy, "made-by-deputy").startswith("zusr")
    # Left out, it is false.
    refused(
        api.post(
            USER,
            {
                "ust": ust_of(api, "alice"),
                "username": "x",
                "email": "x@example.com",
                "password": GOOD_PASSWORD,
            },
        ),
        "E005005",
    )


def test_a_created_user_can_be_made_to_change_the_password(api, admin_ust):
    make_user(api, admin_ust, "carol", password_must_change=True)
    refused(log_in(api, "carol"), "E003007")


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
    refused(api.post(USER, {**body, "password": GOOD_PASSWORD}), "E005005")
    assert not User.objects.filter(username="carol").exists()
    assert audit("user.create", "error").error_codes == "E005005"


# PATCH /zato/sso/user


def test_a_user_changes_their_own_names(api, alice, alice_ust):
    changes = {
        "display_name": "Queen Alice",
        "first_name": "Alicia",
        "middle_name": "P.",
        "last_name": "Liddell",
    }
    response = api.call("PATCH", USER, {"ust": alice_ust, **changes})
    assert response.status_code == 200, response.content
    record = read(api, alice_ust)
    assert {name: record[name] for name in changes} == changes
    row = audit("user.update")
    assert (row.actor_user_id, row.target_user_id) == (alice, alice)
    assert row.extra_data["fields"] == sorted(changes)


def test_fields_left_out_are_left_alone(api, alice, alice_ust):
    api.call("PATCH", USER, {"ust": alice_ust, "last_name": "Liddell"})
    record = read(api, alice_ust)
    assert (record["display_name"], record["first_name"], record["last_name"]) == (
        "Alice L.",
        "Alice",
        "Liddell",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"email": "alice2@example.com"},
        {"is_locked": True},
        {"is_approved": False},
        {"password_must_change": True},
        {"display_name": "fine", "is_locked": False},
    ],
)
def test_a_user_cannot_change_their_status_fields(api, alice, alice_ust, change):
    before = read(api, alice_ust)
    refused(api.call("PATCH", USER, {"ust": alice_ust, **change}), "E005005")
    after = read(api, alice_ust)
    assert {key: after[key] for key in after if key != "cid"} == {
        key: before[key] for key in before if key != "cid"
    }
    assert session_is_live(api, alice_ust)


def test_a_user_cannot_change_another_users_names(api, alice_ust, superuser, admin_ust):
    body = {"ust": alice_ust, "user_id": superuser.user_id, "display_name": "pwned"}
    refused(api.call("PATCH", USER, body), "E005005")
    assert read(api, admin_ust)["display_name"] == ""


def test_a_superuser_changes_another_users_email(api, admin_ust, alice, superuser):
    response = api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "email": "a@corp.test"})
    assert response.status_code == 200, response.content
    assert read(api, admin_ust, alice)["email"] == "a@corp.test"
    row = audit("user.update")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, alice)
    assert row.extra_data["fields"] == ["email"]


def test_a_new_email_is_validated_and_must_be_free(api, admin_ust, alice):
    make_user(api, admin_ust, "bob")
    for email, expected in (
        ("no at sign", "E002004"),
        ("nope", "E002001"),
        ("BOB@example.com", "E002002"),
        ("boss@example.com", "E002002"),
    ):
        body = {"ust": admin_ust, "user_id": alice, "email": email}
        refused(api.call("PATCH", USER, body), expected)
    assert read(api, admin_ust, alice)["email"] == "alice@example.com"


def test_a_superuser_unapproves_and_approves_again(api, admin_ust, alice, superuser):
    api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "is_approved": False})
    assert read(api, admin_ust, alice)["is_approved"] is False
    refused(log_in(api, "alice"), "E005004")
    api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "is_approved": True})
    user = User.objects.get(user_id=alice)
    assert user.is_approved and user.approval_status_mod_by == superuser.user_id
    assert log_in(api, "alice").status_code == 200


def test_locking_through_patch_ends_the_users_sessions(api, admin_ust, alice, alice_ust):
    other = ust_of(api, "alice")
    response = api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "is_locked": True})
    assert response.status_code == 200, response.content
    assert not session_is_live(api, alice_ust) and not session_is_live(api, other)
    assert read(api, admin_ust, alice)["is_locked"] is True
    refused(log_in(api, "alice"), "E005002")
    api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "is_locked": False})
    assert log_in(api, "alice").status_code == 200
    assert session_is_live(api, admin_ust)  # the super-user's own session is untouched


def test_a_superuser_sets_password_must_change(api, admin_ust, alice):
    api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "password_must_change": True})
    assert read(api, admin_ust, alice)["password_must_change"] is True
    refused(log_in(api, "alice"), "E003007")


@pytest.mark.parametrize("change", [{"is_locked": True}, {"is_approved": False}])
def test_a_superuser_cannot_shut_themselves_out_through_patch(api, admin_ust, change):
    refused(api.call("PATCH", USER, {"ust": admin_ust, **change}), "E005001")
    record = read(api, admin_ust)
    assert record["is_approved"] and not record["is_locked"]
    assert log_in(api, "boss", ADMIN_PASSWORD).status_code == 200


def test_patching_an_unknown_user(api, admin_ust):
    body = {"ust": admin_ust, "user_id": "zusrnobody", "display_name": "x"}
    refused(api.call("PATCH", USER, body), "E005001")


# DELETE /zato/sso/user


def test_a_superuser_deletes_a_user_and_their_sessions(api, admin_ust, alice, alice_ust, superuser):
    response = api.call("DELETE", USER, {"ust": admin_ust, "user_id": alice})
    assert response.status_code == 200, response.content
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
    refused(api.call("DELETE", USER, body), "E005001")
    assert User.objects.filter(pk=superuser.pk).exists() and session_is_live(api, admin_ust)


def test_only_a_superuser_deletes(api, alice, alice_ust, superuser, admin_ust):
    make_user(api, admin_ust, "bob")
    bob = User.objects.get(username="bob").user_id
    refused(api.call("DELETE", USER, {"ust": alice_ust, "user_id": bob}), "E005005")
    refused(api.call("DELETE", USER, {"ust": alice_ust, "user_id": alice}), "E005005")
    assert User.objects.count() == 3


def test_deleting_an_unknown_user(api, admin_ust):
    refused(api.call("DELETE", USER, {"ust": admin_ust, "user_id": "zusrnobody"}), "E005001")


# POST /zato/sso/user/search


@pytest.fixture
def people(api, admin_ust, clock) -> dict[str, str]:
    """Five users made one second apart (boss, the super-user, is older than all)."""
    made = {}
    for name, first, last in (
        ("alice", "Alice", "Liddell"),
        ("alfred", "Alfred", "Hitchcock"),
        ("bob", "Robert", "Smith"),
        ("carol", "Carol", "Smithers"),
        ("dave", "David", "Jones"),
    ):
        clock.advance(seconds=1)
        made[name] = make_user(
            api,
            admin_ust,
            name,
            first_name=first,
            last_name=last,
            display_name=f"{first} {last}",
            email=f"{name}@{'corp' if name in ('bob', 'carol') else 'example'}.com",
        )
    return made


def search(api, ust: str, **criteria) -> dict:
    response = api.post(SEARCH, {"ust": ust, **criteria})
    assert response.status_code == 200, response.content
    return response.json()


def names(found: dict) -> list[str]:
    return [row["username"] for row in found["result"]]


def test_search_by_username_is_exact_by_default(api, admin_ust, people):
    found = search(api, admin_ust, username="ALICE")
    assert names(found) == ["alice"] and found["total"] == 1
    assert set(found["result"][0]) == {
        "user_id",
        "username",
        "email",
        "display_name",
        "sign_up_time",
        "is_confirmed",
        "is_approved",
        "is_locked",
    }
    assert found["result"][0]["user_id"] == people["alice"]
    assert names(search(api, admin_ust, username="al")) == []


def test_search_contains(api, admin_ust, people):
    assert names(search(api, admin_ust, username="al", is_name_exact=False)) == ["alice", "alfred"]
    assert names(search(api, admin_ust, last_name="smith", is_name_exact=False)) == ["bob", "carol"]
    assert names(search(api, admin_ust, email="@corp.com", is_name_exact=False)) == ["bob", "carol"]
    # Wildcards of SQL match themselves only.
    assert names(search(api, admin_ust, username="%", is_name_exact=False)) == []
    assert names(search(api, admin_ust, username="_", is_name_exact=False)) == []


def test_search_by_each_field(api, admin_ust, people):
    assert names(search(api, admin_ust, email="bob@corp.com")) == ["bob"]
    assert names(search(api, admin_ust, first_name="robert")) == ["bob"]
    assert names(search(api, admin_ust, last_name="Smith")) == ["bob"]
    assert names(search(api, admin_ust, display_name="David Jones")) == ["dave"]
    assert names(search(api, admin_ust, user_id=people["carol"])) == ["carol"]
    # Several criteria must all match.
    assert names(search(api, admin_ust, last_name="smith", username="carol")) == []


def test_search_by_sign_up_and_approval_status(api, admin_ust, people, clock):
    clock.advance(seconds=1)
    api.post("/zato/sso/user/signup", signup_body(username="newbie", email="newbie@example.com"))
    clock.advance(seconds=1)
    make_user(api, admin_ust, "waiting", auto_approve=False)
    assert names(search(api, admin_ust, sign_up_status="to-confirm")) == ["newbie"]
    assert "newbie" not in names(search(api, admin_ust, sign_up_status="confirmed"))
    assert names(search(api, admin_ust, approval_status="before_decision")) == ["newbie", "waiting"]
    assert names(
        search(api, admin_ust, approval_status="before_decision", sign_up_status="confirmed")
    ) == ["waiting"]
    approved = names(search(api, admin_ust, approval_status="approved"))
    assert approved == ["boss", "alice", "alfred", "bob", "carol", "dave"]
    pending = search(api, admin_ust, username="newbie")["result"][0]
    assert pending["is_confirmed"] is False and pending["is_approved"] is False


def test_search_pages(api, admin_ust, people):
    first = search(api, admin_ust, page_size=2)
    assert names(first) == ["boss", "alice"]
    assert (first["total"], first["num_pages"], first["page"]) == (6, 3, 1)
    assert (first["has_next_page"], first["has_prev_page"]) == (True, False)
    assert (first["next_page"], first["prev_page"]) == (2, None)

    second = search(api, admin_ust, page_size=2, page=2)
    assert names(second) == ["alfred", "bob"]
    assert (second["has_next_page"], second["has_prev_page"]) == (True, True)
    assert (second["next_page"], second["prev_page"]) == (3, 1)

    last = search(api, admin_ust, page_size=2, page=3)
    assert names(last) == ["carol", "dave"]
    assert (last["has_next_page"], last["has_prev_page"]) == (False, True)
    assert (last["next_page"], last["prev_page"]) == (None, 2)

    filtered = search(api, admin_ust, username="a", is_name_exact=False, page_size=2)
    assert filtered["total"] == 4 and filtered["num_pages"] == 2  # alice alfred carol dave


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
        {"page": 0},
        {"page_size": 101},
        {"approval_status": "rejected"},
        {"sign_up_status": "maybe"},
        {"is_name_exact": "no"},
        {"username": 5},
    ],
)
def test_bad_search_input(api, admin_ust, bad):
    refused(api.post(SEARCH, {"ust": admin_ust, **bad}), "E008002", status=400)


def test_only_a_superuser_searches(api, alice_ust):
    refused(api.post(SEARCH, {"ust": alice_ust, "username": "alice"}), "E005005")


# POST / DELETE /zato/sso/user/lock


def test_lock_and_unlock(api, admin_ust, alice, alice_ust, superuser):
    response = api.post(LOCK, {"ust": admin_ust, "user_id": alice})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"status", "cid"}
    assert not session_is_live(api, alice_ust)
    # The state is told only to whoever gives the right password.
    refused(log_in(api, "alice"), "E005002")
    refused(log_in(api, "alice", "not her password"), "E005001")
    user = User.objects.get(user_id=alice)
    assert user.is_locked and user.locked_by == superuser.user_id and user.locked_at
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
    refused(api.post(LOCK, {"ust": admin_ust, "user_id": superuser.user_id}), "E005001")
    assert session_is_live(api, admin_ust)
    assert not User.objects.get(pk=superuser.pk).is_locked
    assert audit("user.lock", "error").error_codes == "E005001"


def test_only_a_superuser_locks(api, admin_ust, alice, alice_ust, superuser):
    refused(api.post(LOCK, {"ust": alice_ust, "user_id": superuser.user_id}), "E005005")
    refused(api.call("DELETE", LOCK, {"ust": alice_ust, "user_id": alice}), "E005005")
    assert session_is_live(api, admin_ust)


def test_locking_an_unknown_user(api, admin_ust):
    refused(api.post(LOCK, {"ust": admin_ust, "user_id": "zusrnobody"}), "E005001")
