"""Throttling of password guesses (admit.sso.throttle): a stranger slows guessing down but
never keeps the owner out; counts are checked and taken atomically; the lock after
``max_consecutive_failures`` counts only guesses the throttle let through."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.sso.flows.login import LoginRequest, login
from admit.sso.flows.users import NewUser, _insert
from admit.sso.models import Session, User
from admit.sso.throttle import AUTOMATIC_LOCK
from tests.conftest import GOOD_PASSWORD, ApiClient, codes, make_user
from tests.sso.test_sessions import is_valid

pytestmark = pytest.mark.django_db

LOGIN = "/zato/sso/user/login"
RESET = "/zato/sso/password/reset"
HOME = "10.23.91.177"  # the address ApiClient() calls from
NEW_PASSWORD = "Seven swallows over the plum tree"


def credentials(**changes):
    return {"username": "user1", "password": GOOD_PASSWORD, "current_app": "CRM", **changes}


def client_at(address: str) -> ApiClient:
    client = ApiClient()
    client.client.defaults["REMOTE_ADDR"] = address
    return client


def fail(api: ApiClient, username: str = "user1"):
    return api.post(LOGIN, credentials(username=username, password="not the password"))


def refresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def member(db) -> User:
    return _insert(NewUser("user1", "user1@example.com", GOOD_PASSWORD), approved=True)


@pytest.fixture
def owner_at_home(api, member) -> User:
    """``member``, who has logged in from HOME: that address is known to the account."""
    assert api.post(LOGIN, credentials()).status_code == 200
    return member


# One username from one address


def test_five_failures_pause_that_username_from_that_address_only(api, member, clock):
    for _ in range(5):
        assert codes(fail(api)) == ["E005001"]
    paused = api.post(LOGIN, credentials())
    assert paused.status_code == 429 and codes(paused) == ["E005001"]
    assert 1 <= int(paused["Retry-After"]) <= 300
    assert not Session.objects.exists()
    # The same username from elsewhere, and another username from here, are not paused.
    assert client_at("10.99.0.2").post(LOGIN, credentials()).status_code == 200
    clock.advance(seconds=int(paused["Retry-After"]))
    assert api.post(LOGIN, credentials()).status_code == 200


def test_a_success_starts_the_address_count_afresh(api, member):
    for _ in range(4):
        fail(api)
    assert api.post(LOGIN, credentials()).status_code == 200
    for _ in range(4):
        assert codes(fail(api)) == ["E005001"]
    assert api.post(LOGIN, credentials()).status_code == 200  # four again, not eight
    assert refresh(member).failed_logins == 0


def test_pause_counts_the_normalised_username(api, member):
    for name in ("user1", "USER1", "User1", "uSeR1", "user1"):
        fail(api, name)
    assert api.post(LOGIN, credentials()).status_code == 429


def test_wrong_totp_codes_count_as_failures(api, member, clock):
    from admit.core import totp

    ust = api.post(LOGIN, credentials()).json()["ust"]
    secret = api.call("PATCH", "/zato/sso/user/totp", {"ust": ust}).json()["totp_key"]
    switch = totp.code_at(secret, totp.step_of(clock()) - 1)  # keeps the current code unspent
    body = {"ust": ust, "is_totp_enabled": True, "totp_code": switch}
    assert api.call("PATCH", "/zato/sso/user", body).status_code == 200
    good = totp.code_at(secret, totp.step_of(clock()))
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        assert codes(api.post(LOGIN, credentials(totp_code=wrong))) == ["E005001"]
    assert api.post(LOGIN, credentials(totp_code=good)).status_code == 429


# One address, whatever the username


def test_ten_failures_a_minute_from_one_address_then_429(api, member, clock):
    for number in range(10):
        assert fail(api, f"ghost{number}").status_code == 403
    blocked = api.post(LOGIN, credentials())
    assert blocked.status_code == 429 and codes(blocked) == ["E005001"]
    assert 1 <= int(blocked["Retry-After"]) <= 60
    assert client_at("10.99.0.2").post(LOGIN, credentials()).status_code == 200
    clock.advance(seconds=61)
    assert api.post(LOGIN, credentials()).status_code == 200


def test_successes_use_up_no_limit(api, member):
    for _ in range(40):
        assert api.post(LOGIN, credentials()).status_code == 200


def test_rate_limits_can_be_switched_off(api, member, policy):
    policy(rate_limits={"enabled": False})
    for number in range(12):
        fail(api, f"ghost{number}")
    for _ in range(40):
        fail(api)
    assert api.post(LOGIN, credentials()).status_code == 200


# One username from many addresses: the owner keeps a way in


def strangers_fail(count: int, username: str = "user1", first: int = 0) -> list[int]:
    return [
        fail(client_at(f"10.66.{n // 250}.{n % 250}"), username).status_code
        for n in range(first, first + count)
    ]


def test_strangers_everywhere_never_pause_the_owner_at_a_known_address(api, owner_at_home):
    statuses = strangers_fail(40)
    assert statuses == [403] * 30 + [429] * 10  # 30 guesses in 5 minutes, whoever makes them
    # From an address the account has not logged in from, the owner waits too (5 minutes
    # at most)...
    assert client_at("10.77.0.1").post(LOGIN, credentials()).status_code == 429
    # ... but not from home.
    assert api.post(LOGIN, credentials()).status_code == 200


def test_the_username_pause_is_short(api, member, clock):
    strangers_fail(30)
    paused = client_at("10.77.0.1").post(LOGIN, credentials())
    assert paused.status_code == 429 and int(paused["Retry-After"]) <= 300
    clock.advance(seconds=int(paused["Retry-After"]))
    assert client_at("10.77.0.1").post(LOGIN, credentials()).status_code == 200


def test_an_unknown_username_is_paused_exactly_like_a_known_one(api, member):
    known = strangers_fail(31, "user1")
    unknown = strangers_fail(31, "nobody", first=100)
    assert known == unknown == [403] * 30 + [429]


def test_a_known_address_is_forgotten_after_known_address_days(api, owner_at_home, clock):
    clock.advance(days=91)
    strangers_fail(30)
    assert api.post(LOGIN, credentials()).status_code == 429


# The lock after max_consecutive_failures


def test_the_lock_counts_only_failures_the_throttle_let_through(api, member, policy):
    policy(login={"max_consecutive_failures": 8})
    statuses = [fail(api).status_code for _ in range(20)]
    assert statuses == [403] * 5 + [429] * 15
    assert refresh(member).failed_logins == 5 and not refresh(member).is_locked


def test_the_lock_shuts_out_unknown_addresses_and_tells_the_owner(api, owner_at_home, policy):
    policy(login={"max_consecutive_failures": 3})
    live = api.post(LOGIN, credentials()).json()["ust"]
    strangers_fail(3)
    locked = refresh(owner_at_home)
    assert locked.is_locked and locked.locked_by == AUTOMATIC_LOCK and locked.locked_at
    (email,) = OutgoingEmail.objects.filter(template="account_locked")
    assert email.to == "user1@example.com"
    assert "reset your password" in email.body_text and "/password/reset/" in email.body_text
    # From an unknown address even the right password is refused as a wrong one: after the
    # lock, guesses there learn nothing, not even that the account is locked.
    stranger = client_at("10.77.0.1")
    assert codes(stranger.post(LOGIN, credentials())) == ["E005001"]
    # The owner's session goes on, and from home the owner logs in, which lifts the lock.
    assert api.get("/zato/sso/user/session/list", {"ust": live}).status_code == 200
    assert api.post(LOGIN, credentials()).status_code == 200
    unlocked = refresh(owner_at_home)
    assert not unlocked.is_locked and unlocked.failed_logins == 0 and unlocked.locked_by == ""
    assert stranger.post(LOGIN, credentials()).status_code == 200


def test_one_email_per_lock(api, member, policy):
    policy(rate_limits={"enabled": False}, login={"max_consecutive_failures": 3})
    for _ in range(6):
        fail(api)
    assert OutgoingEmail.objects.filter(template="account_locked").count() == 1


def test_a_password_reset_lifts_the_lock_and_the_pause(api, member, policy):
    policy(login={"max_consecutive_failures": 3})
    policy(rate_limits={"login_failures_per_username": (3, 300)})
    strangers_fail(3)
    assert refresh(member).is_locked
    newcomer = client_at("10.88.0.1")
    assert newcomer.post(RESET, {"credential": "user1", "current_app": "CRM"}).status_code == 200
    (email,) = OutgoingEmail.objects.filter(template="password_reset")
    token = email.body_text.split("zcnt")[1][:32]
    key = newcomer.call("PATCH", RESET, {"token": f"zcnt{token}"}).json()["reset_key"]
    done = newcomer.call(
        "DELETE", RESET, {"token": f"zcnt{token}", "reset_key": key, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.content
    assert not refresh(member).is_locked and refresh(member).failed_logins == 0
    # Neither the lock nor the username's pause keeps the owner out of the new address.
    assert newcomer.post(LOGIN, credentials(password=NEW_PASSWORD)).status_code == 200


def test_a_super_users_lock_holds_at_known_addresses_too(api, owner_at_home, admin_ust):
    lock = api.post("/zato/sso/user/lock", {"ust": admin_ust, "user_id": owner_at_home.user_id})
    assert lock.status_code == 200
    assert codes(api.post(LOGIN, credentials())) == ["E005002"]


def test_unlocking_lifts_an_automatic_lock_and_the_username_pause(api, member, policy, admin_ust):
    policy(login={"max_consecutive_failures": 5})
    policy(rate_limits={"login_failures_per_username": (5, 300)})
    strangers_fail(5)
    assert refresh(member).is_locked
    newcomer = client_at("10.88.0.1")
    assert newcomer.post(LOGIN, credentials()).status_code == 429
    unlock = api.call(
        "DELETE", "/zato/sso/user/lock", {"ust": admin_ust, "user_id": member.user_id}
    )
    assert unlock.status_code == 200
    assert newcomer.post(LOGIN, credentials()).status_code == 200


def test_consecutive_failures_reset_on_success_and_do_not_lock(api, member, policy):
    policy(rate_limits={"enabled": False}, login={"max_consecutive_failures": 3})
    for _ in range(2):
        fail(api)
    assert api.post(LOGIN, credentials()).status_code == 200
    for _ in range(2):
        fail(api)
    assert api.post(LOGIN, credentials()).status_code == 200
    assert not refresh(member).is_locked


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_guesses_from_fifty_addresses_evaluate_at_most_the_limit(member):
    """Fifty threads, each its own connection, released together against one username."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    burst = 50
    barrier = threading.Barrier(burst)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def guess(number: int) -> None:
        client = Client(REMOTE_ADDR=f"10.55.0.{number}")
        body = '{"username": "user1", "password": "wrong guess", "current_app": "CRM"}'
        try:
            barrier.wait()
            response = client.post(LOGIN, body, content_type="application/json")
            statuses.append(response.status_code)
        except BaseException as error:  # kept: any error a thread meets fails the test
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert sorted(statuses) == [403] * 30 + [429] * 20
    assert refresh(member).failed_logins == 30


def test_a_known_address_is_renewed_at_most_daily(api, owner_at_home, clock):
    from admit.sso.models import KnownAddress

    first = KnownAddress.objects.get().last_seen
    clock.advance(hours=23)
    assert api.post(LOGIN, credentials()).status_code == 200
    assert KnownAddress.objects.get().last_seen == first  # one write less per log-in
    clock.advance(hours=2)
    assert api.post(LOGIN, credentials()).status_code == 200
    assert KnownAddress.objects.get().last_seen == clock()


def test_strangers_who_lock_a_super_user_leave_their_session_its_powers(api, admin_ust, policy):
    """The automatic lock turns away log-ins from unknown addresses; it does not take a
    super-user's powers from the session they have (a super-user's lock would)."""
    policy(login={"max_consecutive_failures": 3})
    admin = User.objects.get(username="boss")

    strangers_fail(3, "boss")

    assert refresh(admin).is_locked
    newcomer = make_user(api, admin_ust, "newcomer")  # still a super-user's act
    theirs = login(LoginRequest("newcomer", GOOD_PASSWORD, "CRM"), Caller()).ust
    # ... and so is checking another person's session (the session check's own query).
    assert is_valid(api, admin_ust, theirs)
    assert newcomer
