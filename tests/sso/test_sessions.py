"""Sessions (``ust``): opening, expiry, verify, renewal, reading, listing and ending them,
and the events that end a user's sessions (lock, delete, password change)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from admit.audit.models import AuditEvent
from admit.core.secrets import digest
from admit.sso.flows.sessions import sweep_expired
from admit.sso.flows.users import NewUser, _insert
from admit.sso.models import Session, SessionEvent, User
from admit.worker import sweep
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, ApiClient, codes

pytestmark = pytest.mark.django_db

LOGIN = "/zato/sso/user/login"
LOGOUT = "/zato/sso/user/logout"
SESSION = "/zato/sso/user/session"
SESSIONS = "/zato/sso/user/session/list"
NEW_PASSWORD = "Another-Long-Passphrase-77"
HOUR = 3600


def utc(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def make_user(name: str) -> User:
    return _insert(NewUser(name, f"{name}@example.com", GOOD_PASSWORD), approved=True)


def log_in(api: ApiClient, username: str = "user1", app: str = "CRM", **extra) -> str:
    password = ADMIN_PASSWORD if username == "boss" else GOOD_PASSWORD
    body = {"username": username, "password": password, "current_app": app, **extra}
    response = api.post(LOGIN, body)
    assert response.status_code == 200, response.json()
    return response.json()["ust"]


def verify(api: ApiClient, current_ust: str, target_ust: str | None = None):
    body = {"current_ust": current_ust}
    if target_ust is not None:
        body["target_ust"] = target_ust
    return api.post(SESSION, body)


def is_valid(api: ApiClient, current_ust: str, target_ust: str | None = None) -> bool:
    response = verify(api, current_ust, target_ust)
    assert response.status_code == 200, response.json()
    return response.json()["is_valid"]


def listing(api: ApiClient, ust: str):
    """The caller's own sessions: how a regular user learns whether its ``ust`` is live."""
    return api.get(SESSIONS, {"ust": ust})


def live(api: ApiClient, ust: str) -> bool:
    response = listing(api, ust)
    if response.status_code == 200:
        return True
    assert codes(response) in (["E007001"], ["E007002"]), response.content
    return False


def session_of(ust: str) -> Session | None:
    return Session.objects.filter(ust_digest=digest(ust)).first()


@pytest.fixture
def member(db) -> User:
    return make_user("user1")


@pytest.fixture
def other(db) -> User:
    return make_user("user2")


@pytest.fixture
def boss(superuser) -> User:
    return superuser


# Opening and expiry


def test_every_login_opens_a_new_session(api, member, clock):
    first, second = log_in(api), log_in(api)
    assert first != second
    assert first.startswith("zust") and len(first) == 36
    sessions = Session.objects.filter(user=member)
    assert sessions.count() == 2
    assert {s.ust_digest for s in sessions} == {digest(first), digest(second)}
    assert not Session.objects.filter(ust_digest__in=[first, second]).exists()
    assert session_of(first).expires_at == clock() + timedelta(seconds=HOUR)


def test_session_expires_after_the_default_hour(api, clock, member, boss):
    ust = log_in(api)
    clock.advance(seconds=HOUR - 600)
    admin = log_in(api, "boss")
    assert live(api, ust) is True
    assert is_valid(api, admin, ust) is True
    clock.advance(seconds=599)
    assert is_valid(api, admin, ust) is True
    clock.advance(seconds=1)
    assert is_valid(api, admin, ust) is False
    expired = listing(api, ust)
    assert expired.status_code == 403 and codes(expired) == ["E007002"]


def test_session_expiry_follows_the_policy(api, clock, member, policy):
    policy(session={"expiry": 600})
    ust = log_in(api)
    clock.advance(seconds=599)
    assert live(api, ust)
    clock.advance(seconds=1)
    assert codes(listing(api, ust)) == ["E007002"]


def test_per_app_expiry(api, clock, member, boss, policy):
    policy(session={"app_expiry": {"CRM": 120}})
    crm, erp = log_in(api, app="CRM"), log_in(api, app="ERP")
    admin = log_in(api, "boss", app="ERP")
    assert session_of(crm).expires_at == clock() + timedelta(seconds=120)
    assert session_of(erp).expires_at == clock() + timedelta(seconds=HOUR)
    clock.advance(seconds=119)
    assert live(api, crm) and is_valid(api, admin, crm)
    clock.advance(seconds=1)
    assert is_valid(api, admin, crm) is False
    assert is_valid(api, admin, erp) is True and live(api, erp) is True
    assert codes(listing(api, crm)) == ["E007002"]


# Verify


def test_verify_needs_a_superusers_current_ust_even_for_ones_own_session(api, member):
    # Zato's session.verify calls require_super_user first: E005001, not E005005.
    ust = log_in(api)
    for target in (ust, log_in(api), "zust" + "0" * 32, "not a token"):
        refused = verify(api, ust, target)
        assert refused.status_code == 403 and codes(refused) == ["E005001"]


def test_verify_without_target_ust_is_e007001_as_zato(api, member, boss):
    admin = log_in(api, "boss")
    missing = verify(api, admin)
    assert missing.status_code == 403 and codes(missing) == ["E007001"]
    assert codes(api.post(SESSION, {"current_ust": admin, "target_ust": ""})) == ["E007001"]


def test_superuser_verifies_anyones_session(api, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    response = verify(api, admin, ust)
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["is_valid"] is True
    assert is_valid(api, admin, admin) is True
    api.post(LOGOUT, {"ust": ust, "current_app": "CRM"})
    assert is_valid(api, admin, ust) is False


def test_verify_answers_is_valid_false_for_an_unknown_or_malformed_target(api, boss):
    admin = log_in(api, "boss")
    assert is_valid(api, admin, "zust" + "0" * 32) is False
    assert is_valid(api, admin, "not a token") is False


def test_a_locked_superusers_current_ust_may_not_verify(api, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    User.objects.filter(pk=boss.pk).update(is_locked=True)
    assert codes(verify(api, admin, ust)) == ["E005001"]
    User.objects.filter(pk=boss.pk).update(is_locked=False, is_superuser=False)
    assert codes(verify(api, admin, ust)) == ["E005001"]


def test_verify_with_an_unknown_malformed_or_expired_current_ust(api, clock, member, boss):
    ust = log_in(api)
    assert codes(verify(api, "zust" + "0" * 32, ust)) == ["E007001"]
    assert codes(verify(api, "rubbish", ust)) == ["E007001"]
    admin = log_in(api, "boss")
    clock.advance(seconds=HOUR)
    assert codes(verify(api, admin, ust)) == ["E007002"]


def test_verify_writes_nothing_and_costs_one_query(api, member, boss, django_assert_num_queries):
    ust, admin = log_in(api), log_in(api, "boss")
    before = AuditEvent.objects.count(), SessionEvent.objects.count()
    with django_assert_num_queries(1):
        assert is_valid(api, admin, ust)
    assert (AuditEvent.objects.count(), SessionEvent.objects.count()) == before


def test_the_queue_answers_e007002_for_an_expired_ust(api, clock, boss):
    admin = log_in(api, "boss")
    assert api.get("/zato/sso/user/signup", {"ust": admin}).status_code == 200
    clock.advance(seconds=HOUR)
    expired = api.get("/zato/sso/user/signup", {"ust": admin})
    assert expired.status_code == 403 and codes(expired) == ["E007002"]
    assert codes(api.get("/zato/sso/user/signup", {"ust": "zust" + "0" * 32})) == ["E007001"]


# Renewal


def test_renewal_extends_the_session(api, clock, member):
    ust = log_in(api)
    original = session_of(ust).expires_at
    clock.advance(seconds=3000)
    response = api.call("PATCH", SESSION, {"ust": ust})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.json()["expiration_time"] == utc(clock() + timedelta(seconds=HOUR))
    assert session_of(ust).expires_at == clock() + timedelta(seconds=HOUR)
    clock.advance(seconds=(original - clock()).total_seconds() + 1)  # past the first expiry
    assert live(api, ust)
    clock.advance(seconds=3000 - 1)
    assert codes(listing(api, ust)) == ["E007002"]


def test_renewal_uses_the_apps_lifetime(api, clock, member, policy):
    policy(session={"app_expiry": {"CRM": 120}})
    ust = log_in(api)
    clock.advance(seconds=100)
    renewed = api.call("PATCH", SESSION, {"ust": ust, "current_app": "CRM"})
    assert renewed.json()["expiration_time"] == utc(clock() + timedelta(seconds=120))
    clock.advance(seconds=119)
    assert live(api, ust)


def test_an_expired_or_unknown_session_cannot_be_renewed(api, clock, member):
    ust = log_in(api)
    clock.advance(seconds=HOUR)
    expired = api.call("PATCH", SESSION, {"ust": ust})
    assert expired.status_code == 403 and codes(expired) == ["E007002"]
    assert codes(api.call("PATCH", SESSION, {"ust": "zust" + "0" * 32})) == ["E007001"]
    assert session_of(ust).expires_at == clock()


# Reading one session


def read(api: ApiClient, current_ust: str, target_ust: str):
    return api.get(SESSION, {"current_ust": current_ust, "target_ust": target_ust})


def test_superuser_reads_a_session_with_zatos_fields(api, clock, member, boss):
    ust = log_in(api, remote_addr="crm.example.com", user_agent="Probe/1.0")
    admin = log_in(api, "boss", user_agent="Boss/1")
    response = read(api, admin, ust)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "cid": body["cid"],
        "creation_time": utc(clock()),
        "expiration_time": utc(clock() + timedelta(seconds=HOUR)),
        # Zato's remote_addr: the one the log-in gave, else the client's address.
        "remote_addr": "crm.example.com",
        "user_agent": "Probe/1.0",
        "current_app": "CRM",
    }
    assert ust not in response.content.decode()
    assert read(api, admin, admin).json()["remote_addr"] == "10.23.91.177"


def test_read_takes_the_user_agent_header_by_default(api, member, boss):
    response = api.post(
        LOGIN,
        {"username": "user1", "password": GOOD_PASSWORD, "current_app": "CRM"},
        HTTP_USER_AGENT="curl/8.5.0",
    )
    ust, admin = response.json()["ust"], log_in(api, "boss")
    assert api.get(f"{SESSION}?current_ust={admin}&target_ust={ust}").json()["user_agent"] == (
        "curl/8.5.0"
    )


def test_read_needs_a_superusers_current_ust_even_for_ones_own_session(api, member, other):
    mine, theirs = log_in(api), log_in(api, "user2", user_agent="Secret/1")
    for target in (mine, log_in(api), theirs, "zust" + "0" * 32):
        refused = read(api, mine, target)
        assert refused.status_code == 403 and codes(refused) == ["E005001"]
        assert "Secret" not in refused.content.decode()


def test_read_without_target_ust_is_e007001_as_zato(api, boss):
    admin = log_in(api, "boss")
    assert codes(api.get(SESSION, {"current_ust": admin})) == ["E007001"]


def test_read_an_unknown_or_expired_target(api, clock, member, boss):
    ust = log_in(api)
    clock.advance(seconds=HOUR - 1)
    admin = log_in(api, "boss")
    assert codes(read(api, admin, "zust" + "0" * 32)) == ["E007001"]
    assert codes(read(api, admin, "rubbish")) == ["E007001"]
    clock.advance(seconds=1)
    assert codes(read(api, admin, ust)) == ["E007002"]


def test_read_with_an_expired_current_ust(api, clock, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    clock.advance(seconds=HOUR)
    assert codes(read(api, admin, ust)) == ["E007002"]


# Listing


def test_list_own_live_sessions_with_zatos_fields(api, clock, member, other):
    first = log_in(api, user_agent="Laptop/1", remote_addr="crm.example.com")
    created = clock()
    clock.advance(seconds=10)
    second = log_in(api, user_agent="Phone/1")
    log_in(api, "user2")
    clock.advance(seconds=10)
    api.call("PATCH", SESSION, {"ust": first}, HTTP_USER_AGENT="Renewer/1")
    response = api.get(SESSIONS, {"ust": second})
    assert response.status_code == 200
    result = response.json()["result"]
    assert [entry["user_agent"] for entry in result] == ["Laptop/1", "Phone/1"]
    laptop, phone = result
    assert laptop == {
        "creation_time": utc(created),
        "expiration_time": utc(clock() + timedelta(seconds=HOUR)),
        "remote_addr": "crm.example.com",
        "user_agent": "Laptop/1",
        "current_app": "CRM",
        "auth_type": "default",
        "auth_principal": "user1",
        "session_state_change_list": [
            {
                "remote_addr": "crm.example.com",
                "user_agent": "Laptop/1",
                "timestamp_utc": utc(created),
                "ctx_source": "login",
                "idx": 1,
            },
            {
                "remote_addr": "10.23.91.177",
                "user_agent": "Renewer/1",
                "timestamp_utc": utc(clock()),
                "ctx_source": "renew",
                "idx": 2,
            },
        ],
        "ust": None,
    }
    assert [c["ctx_source"] for c in phone["session_state_change_list"]] == ["login"]
    assert phone["remote_addr"] == "10.23.91.177"
    # admit returns no session's token but the caller's own current one (Zato returns all).
    assert phone["ust"] == second
    assert first not in response.content.decode()
    assert "history" not in laptop and "remote_name" not in laptop


def test_list_leaves_out_expired_sessions(api, clock, member, policy):
    policy(session={"app_expiry": {"ERP": 60}})
    log_in(api, app="ERP")
    ust = log_in(api, app="CRM")
    assert len(api.get(SESSIONS, {"ust": ust}).json()["result"]) == 2
    clock.advance(seconds=60)
    listed = api.get(SESSIONS, {"ust": ust}).json()["result"]
    assert [entry["current_app"] for entry in listed] == ["CRM"]


def test_superuser_lists_the_sessions_of_the_user_owning_target_ust(api, member, other, boss):
    mine = [log_in(api, user_agent=f"Member/{n}") for n in range(2)]
    log_in(api, "user2")
    admin = log_in(api, "boss")
    response = api.get(SESSIONS, {"current_ust": admin, "target_ust": mine[1]})
    assert response.status_code == 200
    result = response.json()["result"]
    assert [entry["user_agent"] for entry in result] == ["Member/0", "Member/1"]
    assert {entry["auth_principal"] for entry in result} == {"user1"}
    assert all(entry["ust"] is None for entry in result)
    assert not any(ust in response.content.decode() for ust in mine)
    own = api.get(SESSIONS, {"current_ust": admin, "target_ust": admin}).json()["result"]
    assert [entry["ust"] for entry in own] == [admin]


def test_a_regular_user_lists_by_target_ust_only_their_own(api, member, other):
    mine, again = log_in(api), log_in(api)
    theirs = log_in(api, "user2")
    own = api.get(SESSIONS, {"current_ust": mine, "target_ust": again})
    assert own.status_code == 200 and len(own.json()["result"]) == 2
    for target in (theirs, "zust" + "0" * 32, "rubbish"):
        refused = api.get(SESSIONS, {"current_ust": mine, "target_ust": target})
        assert refused.status_code == 403 and codes(refused) == ["E005001"]


def test_list_with_an_unknown_or_expired_target_ust(api, clock, member, boss):
    ust = log_in(api)
    clock.advance(seconds=HOUR - 1)
    admin = log_in(api, "boss")
    unknown = api.get(SESSIONS, {"current_ust": admin, "target_ust": "zust" + "0" * 32})
    assert codes(unknown) == ["E007001"]
    clock.advance(seconds=1)
    assert codes(api.get(SESSIONS, {"current_ust": admin, "target_ust": ust})) == ["E007002"]


@pytest.mark.parametrize(
    "selectors",
    [
        {},
        {"current_ust": "x"},
        {"target_ust": "x"},
        {"ust": "u", "current_ust": "x"},
        {"ust": "u", "target_ust": "x"},
        {"ust": "u", "current_ust": "x", "target_ust": "y"},
        {"current_ust": "x", "target_ust": "y", "user_id": "z"},
    ],
)
def test_list_takes_ust_or_current_and_target_ust_but_not_both_403_e008002(api, member, selectors):
    ust = log_in(api)
    query = {key: ust if value in ("u", "x") else value for key, value in selectors.items()}
    refused = api.get(SESSIONS, query)
    # Each field is well-formed, so not a 400: refused as Zato does, with 403.
    assert refused.status_code == 403 and codes(refused) == ["E008002"]


def test_superuser_lists_another_users_sessions_by_user_id(api, member, other, boss):
    mine = [log_in(api, user_agent=f"Member/{n}") for n in range(2)]
    log_in(api, "user2")
    admin = log_in(api, "boss")
    response = api.get(SESSIONS, {"ust": admin, "user_id": member.user_id})
    result = response.json()["result"]
    assert [entry["user_agent"] for entry in result] == ["Member/0", "Member/1"]
    assert all(entry["ust"] is None for entry in result)
    assert not any(ust in response.content.decode() for ust in mine)


def test_normal_user_may_not_list_another_users_sessions_by_user_id(api, member, other):
    mine = log_in(api)
    log_in(api, "user2")
    refused = api.get(SESSIONS, {"ust": mine, "user_id": other.user_id})
    assert refused.status_code == 403 and codes(refused) == ["E005001"]
    own = api.get(SESSIONS, {"ust": mine, "user_id": member.user_id})
    assert len(own.json()["result"]) == 1


# Ending sessions


def test_user_ends_their_own_session(api, member):
    keep, end = log_in(api), log_in(api)
    response = api.call("DELETE", SESSION, {"current_ust": end})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert session_of(end) is None and session_of(keep) is not None
    assert codes(listing(api, end)) == ["E007001"]


def test_user_ends_another_of_their_own_sessions(api, member):
    keep, end = log_in(api), log_in(api)
    assert api.call("DELETE", SESSION, {"current_ust": keep, "target_ust": end}).status_code == 200
    assert session_of(end) is None and live(api, keep)


def test_superuser_ends_anyones_session(api, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    response = api.call("DELETE", SESSION, {"current_ust": admin, "target_ust": ust})
    assert response.status_code == 200
    assert session_of(ust) is None and live(api, admin)
    row = AuditEvent.objects.get(event="session.end")
    assert row.actor_user_id == boss.user_id and row.target_user_id == member.user_id


def test_other_user_may_not_end_a_session(api, member, other):
    mine, theirs = log_in(api), log_in(api, "user2")
    refused = api.call("DELETE", SESSION, {"current_ust": mine, "target_ust": theirs})
    # Zato's code for want of rights (the audit log keeps E005005).
    assert refused.status_code == 403 and codes(refused) == ["E005001"]
    assert live(api, theirs)


def test_end_all_other_sessions_keeps_the_current_one(api, member, other):
    others = [log_in(api) for _ in range(3)]
    current = log_in(api)
    theirs = log_in(api, "user2")
    response = api.call("DELETE", SESSIONS, {"ust": current})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert all(session_of(ust) is None for ust in others)
    assert live(api, current) and live(api, theirs)
    assert [e["ust"] for e in api.get(SESSIONS, {"ust": current}).json()["result"]] == [current]
    assert AuditEvent.objects.get(event="session.end_others").extra_data["ended"] == 3


def test_locking_a_user_ends_their_sessions(api, member, other, boss):
    sessions = [log_in(api), log_in(api)]
    theirs = log_in(api, "user2")
    admin = log_in(api, "boss")
    response = api.post("/zato/sso/user/lock", {"ust": admin, "user_id": member.user_id})
    assert response.status_code == 200
    assert not any(is_valid(api, admin, ust) for ust in sessions)
    assert is_valid(api, admin, theirs) and live(api, admin)
    assert not Session.objects.filter(user=member).exists()


def test_locking_through_update_ends_their_sessions(api, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    response = api.call(
        "PATCH", "/zato/sso/user", {"ust": admin, "user_id": member.user_id, "is_locked": True}
    )
    assert response.status_code == 200
    assert is_valid(api, admin, ust) is False


def test_deleting_a_user_ends_their_sessions(api, member, other, boss):
    ust = log_in(api)
    theirs = log_in(api, "user2")
    admin = log_in(api, "boss")
    response = api.call("DELETE", "/zato/sso/user", {"ust": admin, "user_id": member.user_id})
    assert response.status_code == 200
    assert is_valid(api, admin, ust) is False
    assert is_valid(api, admin, theirs) is True
    assert codes(listing(api, ust)) == ["E007001"]


def test_changing_own_password_ends_the_other_sessions_only(api, member, other):
    elsewhere = log_in(api)
    current = log_in(api)
    theirs = log_in(api, "user2")
    response = api.call(
        "PATCH",
        "/zato/sso/user/password",
        {"ust": current, "old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert session_of(elsewhere) is None
    assert live(api, current) and live(api, theirs)


def test_wrong_old_password_ends_nothing(api, member):
    elsewhere, current = log_in(api), log_in(api)
    refused = api.call(
        "PATCH",
        "/zato/sso/user/password",
        {"ust": current, "old_password": "not it", "new_password": NEW_PASSWORD},
    )
    assert refused.status_code == 403
    assert live(api, elsewhere) and live(api, current)


def test_superuser_setting_a_password_ends_all_of_that_users_sessions(api, member, boss):
    ust, admin = log_in(api), log_in(api, "boss")
    response = api.call(
        "PATCH",
        "/zato/sso/user/password",
        {"ust": admin, "user_id": member.user_id, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert session_of(ust) is None and live(api, admin)


def test_logging_in_with_a_forced_new_password_ends_the_other_sessions(api, member):
    old = log_in(api)
    User.objects.filter(pk=member.pk).update(password_must_change=True)
    new = api.post(
        LOGIN,
        {
            "username": "user1",
            "password": GOOD_PASSWORD,
            "current_app": "CRM",
            "new_password": NEW_PASSWORD,
        },
    ).json()["ust"]
    assert session_of(old) is None and live(api, new)


# Log-out


def test_logout_ends_only_that_session(api, member):
    keep, end = log_in(api), log_in(api)
    response = api.post(LOGOUT, {"ust": end, "current_app": "CRM"})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert session_of(end) is None and live(api, keep)
    assert AuditEvent.objects.get(event="logout").target_user_id == member.user_id


@pytest.mark.parametrize("ust", ["zust" + "0" * 32, "rubbish", ""])
def test_logout_is_always_ok(api, member, ust):
    response = api.post(LOGOUT, {"ust": ust, "current_app": "CRM"})
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_logout_twice_and_after_expiry_is_ok(api, clock, member):
    ust = log_in(api)
    assert api.post(LOGOUT, {"ust": ust, "current_app": "CRM"}).status_code == 200
    assert api.post(LOGOUT, {"ust": ust, "current_app": "CRM"}).status_code == 200
    stale = log_in(api)
    clock.advance(seconds=HOUR + 1)
    assert api.post(LOGOUT, {"ust": stale, "current_app": "CRM"}).status_code == 200
    assert session_of(stale) is None


# The worker's sweep


def test_sweep_deletes_expired_sessions_only(api, clock, member, policy):
    policy(session={"app_expiry": {"ERP": 60}})
    short = log_in(api, app="ERP")
    long = log_in(api, app="CRM")
    assert sweep_expired() == 0
    clock.advance(seconds=60)
    assert sweep_expired() == 1
    assert session_of(short) is None and session_of(long) is not None
    assert not SessionEvent.objects.filter(session__ust_digest=digest(short)).exists()
    assert live(api, long)


def test_the_worker_sweep_removes_expired_sessions(api, clock, member):
    expired = log_in(api)
    clock.advance(seconds=HOUR - 1)
    live = log_in(api)
    clock.advance(seconds=1)
    sweep()
    assert session_of(expired) is None and session_of(live) is not None
