"""PATCH /zato/sso/user/password: one's own change, a super-user's, the rules, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from admit.audit.models import AuditEvent
from admit.sso.models import User
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, make_user, refused

pytestmark = pytest.mark.django_db

PASSWORD = "/zato/sso/user/password"
LOGIN = "/zato/sso/user/login"
NEW_PASSWORD = "Plum tree & 7 swallows, twice"


def log_in(api, password: str, name: str = "alice", **extra):
    return api.post(LOGIN, {"username": name, "password": password, "current_app": "CRM", **extra})


def ust_of(api, password: str = GOOD_PASSWORD, name: str = "alice") -> str:
    response = log_in(api, password, name)
    assert response.status_code == 200, response.content
    return response.json()["ust"]


def is_live(api, ust: str) -> bool:
    """Whether ``ust`` is live, as its owner learns it: by listing their own sessions."""
    return api.get("/zato/sso/user/session/list", {"ust": ust}).status_code == 200


def change(api, ust: str, **body):
    return api.call("PATCH", PASSWORD, {"ust": ust, **body})


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice")


@pytest.fixture
def alice_ust(api, alice) -> str:
    return ust_of(api)


# One's own password


def test_own_change_with_the_old_password(api, alice, alice_ust):
    other = ust_of(api)
    response = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=NEW_PASSWORD)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"status", "cid"}
    refused(log_in(api, GOOD_PASSWORD), "E005001")
    assert log_in(api, NEW_PASSWORD).status_code == 200
    # The session that changed it goes on; every other one of the user's has ended.
    assert is_live(api, alice_ust)
    assert not is_live(api, other)
    row = AuditEvent.objects.get(event="user.password", outcome="ok")
    assert (row.actor_user_id, row.target_user_id) == (alice, alice)
    assert NEW_PASSWORD not in str(AuditEvent.objects.values_list("extra_data", flat=True))


@pytest.mark.parametrize("old", ["not my password", "", GOOD_PASSWORD[:-1], GOOD_PASSWORD + " "])
def test_a_wrong_old_password_changes_nothing(api, alice, alice_ust, old):
    other = ust_of(api)
    refused(change(api, alice_ust, old_password=old, new_password=NEW_PASSWORD), "E005001")
    refused(log_in(api, NEW_PASSWORD), "E005001")
    assert log_in(api, GOOD_PASSWORD).status_code == 200
    assert is_live(api, alice_ust) and is_live(api, other)
    assert AuditEvent.objects.get(event="user.password").error_codes == "E005001"


def test_guessing_the_old_password_through_a_session_pauses_like_log_in(
    api, alice, alice_ust, clock
):
    for _ in range(5):
        refused(change(api, alice_ust, old_password="guess", new_password=NEW_PASSWORD), "E005001")
    paused = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=NEW_PASSWORD)
    assert paused.status_code == 429 and int(paused["Retry-After"]) >= 1
    assert log_in(api, GOOD_PASSWORD).status_code == 429  # the same pause as for log-ins


@pytest.mark.parametrize(
    ("new", "code"),
    [
        ("password123", "E003001"),
        ("qwertyuiop", "E003001"),
        ("7chars!", "E003002"),
        ("", "E003002"),
        ("x" * 257, "E003003"),
    ],
)
def test_the_new_password_follows_the_rules(api, alice, alice_ust, new, code):
    other = ust_of(api)
    refused(change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=new), code)
    assert log_in(api, GOOD_PASSWORD).status_code == 200
    assert is_live(api, other)


def test_min_and_max_length_come_from_the_policy(api, alice, alice_ust, policy):
    policy(password={"min_length": 30, "max_length": 40})
    body = {"old_password": GOOD_PASSWORD}
    refused(change(api, alice_ust, new_password="y" * 28 + "Q", **body), "E003002")
    refused(change(api, alice_ust, new_password="y" * 40 + "Q", **body), "E003003")
    assert change(api, alice_ust, new_password="y" * 39 + "Q", **body).status_code == 200


def test_no_composition_rules(api, alice, alice_ust):
    lowercase_only = "correcthorsebatterystaple"
    response = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=lowercase_only)
    assert response.status_code == 200, response.content
    assert log_in(api, lowercase_only).status_code == 200


def test_a_256_character_password_is_never_truncated(api, alice, alice_ust):
    long = "".join(chr(ord("a") + n % 26) for n in range(255)) + "Z"
    assert len(long) == 256
    response = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=long)
    assert response.status_code == 200, response.content
    assert log_in(api, long).status_code == 200
    refused(log_in(api, long[:-1]), "E005001")
    refused(log_in(api, long[:72]), "E005001")  # where bcrypt would have cut it
    refused(log_in(api, long[:-1] + "Y"), "E005001")


def test_whitespace_in_a_password_is_kept(api, alice, alice_ust):
    spaced = "  two spaces either side  "
    response = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=spaced)
    assert response.status_code == 200, response.content
    assert log_in(api, spaced).status_code == 200
    refused(log_in(api, spaced.strip()), "E005001")
    refused(log_in(api, " two spaces either side "), "E005001")


def test_unicode_passwords(api, alice, alice_ust):
    word = "Пароль-密码-🔑-ß"
    assert change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=word).status_code == 200
    assert log_in(api, word).status_code == 200
    refused(log_in(api, word.upper()), "E005001")


# A super-user setting someone else's password


def test_a_superuser_sets_a_password_with_expiry_and_must_change(api, admin_ust, alice, clock):
    first, second = ust_of(api), ust_of(api)
    response = change(
        api,
        admin_ust,
        user_id=alice,
        new_password=NEW_PASSWORD,
        password_expiry=30,
        must_change=True,
    )
    assert response.status_code == 200, response.content
    # Every session of that user ended; the super-user's own goes on.
    assert not is_live(api, first) and not is_live(api, second)
    assert is_live(api, admin_ust)
    record = api.get("/zato/sso/user", {"ust": admin_ust, "user_id": alice}).json()
    # password_expiry is a number of days, as Zato has it.
    in_30_days = clock() + timedelta(days=30)
    assert record["password_expiry"] == in_30_days.strftime("%Y-%m-%dT%H:%M:%S")
    assert record["password_must_change"] is True
    row = AuditEvent.objects.get(event="user.password", outcome="ok")
    assert row.actor_user_id == User.objects.get(username="boss").user_id
    assert row.target_user_id == alice

    # The old password is gone; the new one gets in only with a password of the user's own.
    refused(log_in(api, GOOD_PASSWORD), "E005001")
    refused(log_in(api, NEW_PASSWORD), "E003007")
    refused(log_in(api, NEW_PASSWORD), "E003007")
    refused(log_in(api, NEW_PASSWORD, new_password="password123"), "E003001")
    chosen = "Alice's very own passphrase"
    response = log_in(api, NEW_PASSWORD, new_password=chosen)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert log_in(api, chosen).status_code == 200
    refused(log_in(api, NEW_PASSWORD), "E005001")
    user = User.objects.get(user_id=alice)
    assert not user.password_must_change and user.password_expiry is None


def test_the_days_a_superuser_gives_run_out(api, admin_ust, alice, clock):
    response = change(api, admin_ust, user_id=alice, new_password=NEW_PASSWORD, password_expiry=1)
    assert response.status_code == 200, response.content
    clock.advance(hours=23)
    assert log_in(api, NEW_PASSWORD).status_code == 200
    clock.advance(hours=1, seconds=1)
    refused(log_in(api, NEW_PASSWORD), "E003004")


@pytest.mark.parametrize(
    ("days", "expected_days"),
    [(0, None), (-1, 10), (-1_000_000, 10), (None, 10), (3, 3)],
)
def test_zero_days_never_expire_and_below_zero_is_the_policy_default(
    api, admin_ust, alice, policy, clock, days, expected_days
):
    policy(password={"expiry_days": 10})
    body = {"user_id": alice, "new_password": NEW_PASSWORD}
    if days is not None:
        body["password_expiry"] = days
    assert change(api, admin_ust, **body).status_code == 200
    expiry = User.objects.get(user_id=alice).password_expiry
    if expected_days is None:
        assert expiry is None
    else:
        assert expiry == clock() + timedelta(days=expected_days)


@pytest.mark.parametrize("expiry", ["30", "2099-06-01T12:00:00+00:00", 1.5, True, 1_000_001, [30]])
def test_an_expiry_is_a_whole_number_of_days(api, admin_ust, alice, expiry):
    body = {"user_id": alice, "new_password": NEW_PASSWORD, "password_expiry": expiry}
    refused(change(api, admin_ust, **body), "E008002", status=400)
    assert log_in(api, GOOD_PASSWORD).status_code == 200


def test_a_superuser_needs_no_old_password_for_others(api, admin_ust, alice):
    response = change(api, admin_ust, user_id=alice, new_password=NEW_PASSWORD)
    assert response.status_code == 200, response.content
    assert log_in(api, NEW_PASSWORD).status_code == 200


def test_a_superuser_needs_the_old_password_for_their_own(api, admin_ust, superuser):
    body = {"user_id": superuser.user_id, "new_password": NEW_PASSWORD}
    refused(change(api, admin_ust, **body), "E005001")
    assert log_in(api, ADMIN_PASSWORD, name="boss").status_code == 200
    response = change(api, admin_ust, old_password=ADMIN_PASSWORD, **body)
    assert response.status_code == 200, response.content
    assert is_live(api, admin_ust)
    assert log_in(api, NEW_PASSWORD, name="boss").status_code == 200


def test_a_user_cannot_set_another_users_password(api, alice_ust, superuser, admin_ust):
    body = {"user_id": superuser.user_id, "new_password": NEW_PASSWORD}
    refused(change(api, alice_ust, **body), "E005001")
    # Whether or not the other user exists.
    refused(change(api, alice_ust, user_id="zusrnobody", new_password=NEW_PASSWORD), "E005001")
    assert is_live(api, admin_ust)
    assert log_in(api, ADMIN_PASSWORD, name="boss").status_code == 200
    row = AuditEvent.objects.filter(event="user.password", outcome="error").first()
    assert row.error_codes == "E005005"


@pytest.mark.parametrize(
    "extra",
    [{"password_expiry": 3650}, {"password_expiry": 0}, {"must_change": True}],
)
def test_a_users_own_expiry_and_flag_are_ignored(api, alice, alice_ust, policy, clock, extra):
    # As Zato: no error, and nothing granted; the policy decides the expiry.
    policy(password={"expiry_days": 10})
    body = {"old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD, **extra}
    response = change(api, alice_ust, **body)
    assert response.status_code == 200, response.content
    user = User.objects.get(user_id=alice)
    assert user.password_expiry == clock() + timedelta(days=10)
    assert not user.password_must_change
    response = log_in(api, NEW_PASSWORD)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_setting_the_password_of_an_unknown_user(api, admin_ust):
    refused(change(api, admin_ust, user_id="zusrnobody", new_password=NEW_PASSWORD), "E001100")


def test_changing_needs_a_live_session(api, alice, alice_ust, clock):
    refused(change(api, "zust" + "f" * 32, new_password=NEW_PASSWORD), "E007001")
    clock.advance(hours=2)
    body = {"old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD}
    refused(change(api, alice_ust, **body), "E007002")
    assert log_in(api, GOOD_PASSWORD).status_code == 200


# [password] expiry_days


def test_passwords_expire_after_expiry_days_with_a_warning_before(
    api, alice, alice_ust, policy, clock
):
    policy(password={"expiry_days": 30, "warn_days": 7})
    set_at = clock()
    response = change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=NEW_PASSWORD)
    assert response.status_code == 200, response.content
    user = User.objects.get(user_id=alice)
    assert (user.password_expiry - set_at).days == 30

    clock.advance(days=23, seconds=-1)
    quiet = log_in(api, NEW_PASSWORD)
    assert quiet.status_code == 200 and quiet.json()["status"] == "ok"
    assert "sub_status" not in quiet.json() or quiet.json()["sub_status"] is None

    clock.advance(seconds=2)  # within 7 days of the expiry
    warned = log_in(api, NEW_PASSWORD)
    assert warned.status_code == 200
    body = warned.json()
    assert body["status"] == "warning" and body["sub_status"] == ["W003005"]
    assert body["ust"].startswith("zust") and is_live(api, body["ust"])

    clock.advance(days=7)  # 30 days and a second
    refused(log_in(api, NEW_PASSWORD), "E003004")
    refused(log_in(api, "wrong password"), "E005001")


def test_without_expiry_days_passwords_do_not_expire(api, alice, alice_ust, clock):
    change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=NEW_PASSWORD)
    assert User.objects.get(user_id=alice).password_expiry is None
    clock.advance(days=3650)
    response = log_in(api, NEW_PASSWORD)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_a_new_password_starts_a_new_expiry(api, alice, alice_ust, policy, clock):
    policy(password={"expiry_days": 10, "warn_days": 2})
    change(api, alice_ust, old_password=GOOD_PASSWORD, new_password=NEW_PASSWORD)
    clock.advance(days=9)
    ust = ust_of(api, NEW_PASSWORD)
    again = "A fresher passphrase, 2"
    assert change(api, ust, old_password=NEW_PASSWORD, new_password=again).status_code == 200
    clock.advance(days=5)
    response = log_in(api, again)
    assert response.status_code == 200 and response.json()["status"] == "ok"
