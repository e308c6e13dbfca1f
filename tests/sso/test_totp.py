"""TOTP as Zato has it: PATCH /zato/sso/user/totp resets the key (it does not switch TOTP
on), PATCH /zato/sso/user {"is_totp_enabled": true, "totp_code": ...} switches it on with a
code of that key, and log-in then asks for a code.

Codes are computed here by a small RFC 6238 implementation of the test's own, so the service's
arithmetic is checked against something it does not share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from admit.audit.models import AuditEvent
from admit.core import totp
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD, make_user, refused

pytestmark = pytest.mark.django_db

TOTP = "/zato/sso/user/totp"
USER = "/zato/sso/user"
LOGIN = "/zato/sso/user/login"
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
BASE32 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def code_for(secret: str, unix_time: float, digits: int = 6) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", int(unix_time) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def test_the_tests_own_totp_matches_rfc_6238():
    assert code_for(RFC_SECRET, 59) == "287082"
    assert code_for(RFC_SECRET, 59, digits=8) == "94287082"
    assert code_for(RFC_SECRET, 1111111109) == "081804"


def log_in(api, totp_code: str | None = None, password: str = GOOD_PASSWORD):
    body = {"username": "alice", "password": password, "current_app": "CRM"}
    if totp_code is not None:
        body["totp_code"] = totp_code
    return api.post(LOGIN, body)


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice")


@pytest.fixture
def alice_ust(api, alice) -> str:
    return log_in(api).json()["ust"]


@pytest.fixture
def start_of_step(clock):
    """Moves the clock to the first second of a 30-second step and returns the clock."""
    clock.advance(seconds=30 - clock().timestamp() % 30)
    return clock


def reset(api, ust: str, **body):
    """PATCH /zato/sso/user/totp: a new key, TOTP left as it was."""
    return api.call("PATCH", TOTP, {"ust": ust, **body})


def switch(api, ust: str, on: bool, **body):
    """PATCH /zato/sso/user with is_totp_enabled."""
    return api.call("PATCH", USER, {"ust": ust, "is_totp_enabled": on, **body})


def enable(api, ust: str, clock, key: str = RFC_SECRET) -> str:
    """Reset the key to ``key`` and switch TOTP on with a code of it, as a Zato client does;
    then move a minute on, so the code spent switching it on is not the one a test uses."""
    response = reset(api, ust, totp_key=key)
    assert response.status_code == 200, response.content
    key = response.json()["totp_key"]
    response = switch(api, ust, True, totp_code=code_for(key, clock().timestamp()))
    assert response.status_code == 200, response.content
    clock.advance(seconds=60)
    return key


def wrong_code(key: str, unix_time: float) -> str:
    return "000000" if code_for(key, unix_time) != "000000" else "111111"


def is_on(user_id: str) -> bool:
    return User.objects.get(user_id=user_id).is_totp_enabled


def test_an_empty_key_generates_one_and_leaves_totp_off(api, alice, alice_ust):
    response = reset(api, alice_ust, totp_key="")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"status", "cid", "totp_key", "provisioning_uri"}
    key = body["totp_key"]
    assert set(key) <= BASE32
    assert len(base64.b32decode(key + "=" * (-len(key) % 8))) * 8 >= 128
    uri = urlsplit(body["provisioning_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/admit:alice"  # the label defaults to the username
    assert parse_qs(uri.query) == {"secret": [key], "issuer": ["admit"]}
    # A key alone does not switch TOTP on: log-in asks for no code yet.
    assert api.get(USER, {"ust": alice_ust}).json()["is_totp_enabled"] is False
    assert log_in(api).status_code == 200
    # Leaving the key out altogether generates one too, and a different one; while TOTP is
    # off no code is needed to replace it.
    again = reset(api, alice_ust).json()["totp_key"]
    assert again != key and set(again) <= BASE32


def test_the_key_is_stored_encrypted(api, alice, alice_ust):
    key = reset(api, alice_ust).json()["totp_key"]
    user = User.objects.get(user_id=alice)
    assert user.totp_secret and key not in user.totp_secret
    assert key.lower() not in user.totp_secret.lower()
    assert totp.unseal(user.totp_secret) == key
    row = AuditEvent.objects.get(event="user.totp", outcome="ok")
    assert row.target_user_id == alice
    assert key not in str(row.extra_data)
    assert not AuditEvent.objects.filter(extra_data__icontains=key).exists()


def test_a_supplied_key_is_used(api, alice, alice_ust, clock):
    body = reset(api, alice_ust, totp_key=RFC_SECRET, totp_label="alice@phone").json()
    assert body["totp_key"] == RFC_SECRET
    assert unquote(urlsplit(body["provisioning_uri"]).path) == "/admit:alice@phone"
    assert api.get(USER, {"ust": alice_ust}).json()["totp_label"] == "alice@phone"
    switch(api, alice_ust, True, totp_code=code_for(RFC_SECRET, clock().timestamp()))
    clock.advance(seconds=60)
    response = log_in(api, code_for(RFC_SECRET, clock().timestamp()))
    assert response.status_code == 200, response.content


def test_a_supplied_key_may_be_lower_case_and_grouped(api, alice, alice_ust, clock):
    grouped = " ".join(RFC_SECRET[n : n + 4] for n in range(0, 32, 4)).lower()
    body = reset(api, alice_ust, totp_key=grouped).json()
    assert body["totp_key"] == RFC_SECRET
    assert totp.unseal(User.objects.get(user_id=alice).totp_secret) == RFC_SECRET
    enable(api, alice_ust, clock, grouped)
    assert log_in(api, code_for(RFC_SECRET, clock().timestamp())).status_code == 200


@pytest.mark.parametrize(
    "key",
    [
        "not base32!",
        "JBSWY3DPEHPK3PXP",  # 80 bits: too weak
        base64.b32encode(bytes(15)).decode(),  # 120 bits
        "GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ",  # 1 is not base32
        "A" * 257,
    ],
)
def test_an_invalid_key_is_refused_and_changes_nothing(api, alice, alice_ust, key):
    response = reset(api, alice_ust, totp_key=key)
    refused(response, "E008002", status=400)
    assert response.json()["details"][0]["field"] == "totp_key"
    assert not is_on(alice) and not User.objects.get(user_id=alice).totp_secret
    assert log_in(api).status_code == 200


def test_resetting_and_switching_need_a_live_session(api, alice, alice_ust, clock):
    refused(reset(api, "zust" + "a" * 32), "E007001")
    refused(switch(api, "zust" + "a" * 32, True, totp_code="123456"), "E007001")
    clock.advance(hours=1, seconds=1)
    refused(reset(api, alice_ust), "E007002")
    refused(switch(api, alice_ust, True, totp_code="123456"), "E007002")
    assert not is_on(alice) and not User.objects.get(user_id=alice).totp_secret


def test_log_in_then_needs_a_valid_code(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, clock)
    now = clock().timestamp()
    refused(log_in(api), "E005008")
    refused(log_in(api, ""), "E005008")
    wrong = "000000" if code_for(RFC_SECRET, now) != "000000" else "111111"
    refused(log_in(api, wrong), "E005001")
    refused(log_in(api, "abcdef"), "E005001")
    # The second factor is asked for only once the password is right.
    refused(log_in(api, code_for(RFC_SECRET, now), password="wrong password"), "E005001")
    response = log_in(api, code_for(RFC_SECRET, now))
    assert response.status_code == 200, response.content
    assert response.json()["ust"].startswith("zust")


def test_a_code_is_single_use_within_its_window(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, clock)
    code = code_for(RFC_SECRET, clock().timestamp())
    assert log_in(api, code).status_code == 200
    refused(log_in(api, code), "E005001")
    clock.advance(seconds=20)  # still the same window: still spent
    refused(log_in(api, code), "E005001")
    clock.advance(seconds=10)  # the next window brings a new code
    fresh = code_for(RFC_SECRET, clock().timestamp())
    assert fresh != code
    assert log_in(api, fresh).status_code == 200
    refused(log_in(api, fresh), "E005001")


def test_an_older_code_is_refused_once_a_newer_one_was_used(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, clock)
    now = clock().timestamp()
    previous, current = code_for(RFC_SECRET, now - 30), code_for(RFC_SECRET, now)
    assert log_in(api, current).status_code == 200
    refused(log_in(api, previous), "E005001")


def test_one_step_of_clock_drift_is_forgiven(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, clock)
    now = clock().timestamp()
    refused(log_in(api, code_for(RFC_SECRET, now - 60)), "E005001")  # a minute old
    assert log_in(api, code_for(RFC_SECRET, now - 30)).status_code == 200  # the phone is slow
    assert log_in(api, code_for(RFC_SECRET, now + 30)).status_code == 200  # or fast
    refused(log_in(api, code_for(RFC_SECRET, now + 60)), "E005001")


def test_a_new_key_replaces_one_that_is_on_only_with_a_current_code(api, alice, alice_ust, clock):
    enable(api, alice_ust, clock)
    now = clock().timestamp()
    # A stolen session alone cannot swap the second factor.
    refused(reset(api, alice_ust), "E005008")
    refused(reset(api, alice_ust, totp_code=wrong_code(RFC_SECRET, now)), "E005001")
    assert AuditEvent.objects.get(event="user.totp", outcome="error", error_codes="E005009")
    assert totp.unseal(User.objects.get(user_id=alice).totp_secret) == RFC_SECRET
    new_key = reset(api, alice_ust, totp_code=code_for(RFC_SECRET, now)).json()["totp_key"]
    # TOTP stays on, now with the new key.
    assert is_on(alice)
    clock.advance(seconds=30)
    now = clock().timestamp()
    if code_for(RFC_SECRET, now) != code_for(new_key, now):
        refused(log_in(api, code_for(RFC_SECRET, now)), "E005001")
    refused(log_in(api), "E005008")
    assert log_in(api, code_for(new_key, now)).status_code == 200


def test_failed_codes_are_audited_without_the_code(api, alice, alice_ust, start_of_step):
    enable(api, alice_ust, start_of_step)
    wrong = wrong_code(RFC_SECRET, start_of_step().timestamp())
    log_in(api, wrong)
    row = AuditEvent.objects.filter(event="login", outcome="error").first()
    assert row.error_codes == "E005009" and row.target_user_id == alice
    assert wrong not in str(row.extra_data)


# Switching TOTP on and off: PATCH /zato/sso/user


def test_switching_ones_own_totp_on_takes_a_code_of_the_key(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    # Without a key there is nothing to switch on.
    refused(switch(api, alice_ust, True, totp_code="123456"), "E008001")
    reset(api, alice_ust, totp_key=RFC_SECRET)
    now = clock().timestamp()
    refused(switch(api, alice_ust, True), "E005008")
    refused(switch(api, alice_ust, True, totp_code=wrong_code(RFC_SECRET, now)), "E005001")
    row = AuditEvent.objects.get(event="user.update", outcome="error", error_codes="E005009")
    assert row.target_user_id == alice
    assert not is_on(alice) and log_in(api).status_code == 200
    response = switch(api, alice_ust, True, totp_code=code_for(RFC_SECRET, now))
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"status", "cid"}
    assert api.get(USER, {"ust": alice_ust}).json()["is_totp_enabled"] is True
    refused(log_in(api), "E005008")
    clock.advance(seconds=30)
    assert log_in(api, code_for(RFC_SECRET, clock().timestamp())).status_code == 200


def test_the_code_that_switches_totp_on_is_spent(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    reset(api, alice_ust, totp_key=RFC_SECRET)
    code = code_for(RFC_SECRET, clock().timestamp())
    assert switch(api, alice_ust, True, totp_code=code).status_code == 200
    # Whoever watched it typed cannot log in with it.
    refused(log_in(api, code), "E005001")


def test_switching_ones_own_totp_off_takes_a_code_too(api, alice, alice_ust, clock):
    enable(api, alice_ust, clock)
    now = clock().timestamp()
    refused(switch(api, alice_ust, False), "E005008")
    refused(switch(api, alice_ust, False, totp_code=wrong_code(RFC_SECRET, now)), "E005001")
    assert is_on(alice)
    assert switch(api, alice_ust, False, totp_code=code_for(RFC_SECRET, now)).status_code == 200
    assert not is_on(alice)
    assert log_in(api).status_code == 200
    # The key is kept: switching on again takes a code of it.
    clock.advance(seconds=30)
    code = code_for(RFC_SECRET, clock().timestamp())
    assert switch(api, alice_ust, True, totp_code=code).status_code == 200


def test_switching_to_the_state_it_is_in_needs_no_code(api, alice, alice_ust):
    assert switch(api, alice_ust, False).status_code == 200
    assert not is_on(alice)


def test_a_superuser_resets_and_switches_anyones_totp(api, admin_ust, alice, alice_ust, clock):
    # No key yet: nothing to switch on, for a super-user either.
    refused(switch(api, admin_ust, True, user_id=alice), "E008001")
    response = reset(api, admin_ust, user_id=alice, totp_key=RFC_SECRET)
    assert response.status_code == 200, response.content
    assert unquote(urlsplit(response.json()["provisioning_uri"]).path) == "/admit:alice"
    assert not is_on(alice)
    # A super-user needs no code of somebody else's key.
    assert switch(api, admin_ust, True, user_id=alice).status_code == 200
    assert is_on(alice)
    refused(log_in(api), "E005008")
    assert log_in(api, code_for(RFC_SECRET, clock().timestamp())).status_code == 200
    # Nor to replace it while it is on.
    new_key = reset(api, admin_ust, user_id=alice).json()["totp_key"]
    assert totp.unseal(User.objects.get(user_id=alice).totp_secret) == new_key
    assert switch(api, admin_ust, False, user_id=alice).status_code == 200
    assert log_in(api).status_code == 200


def test_a_user_cannot_reset_or_switch_anyone_elses_totp(api, admin_ust, alice, alice_ust):
    bob = make_user(api, admin_ust, "bob")
    refused(reset(api, alice_ust, user_id=bob), "E005001")
    refused(switch(api, alice_ust, True, user_id=bob, totp_code="123456"), "E005001")
    refused(reset(api, alice_ust, user_id="zusrnobody"), "E005001")
    assert not User.objects.get(user_id=bob).totp_secret


def test_resetting_an_unknown_users_key(api, admin_ust):
    refused(reset(api, admin_ust, user_id="zusrnobody"), "E001100")
