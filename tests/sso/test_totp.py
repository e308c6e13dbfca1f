"""PATCH /zato/sso/user/totp and log-in with a second factor.

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


def enable(api, ust: str, **body):
    return api.call("PATCH", TOTP, {"ust": ust, **body})


def test_an_empty_key_generates_one(api, alice, alice_ust, clock):
    response = enable(api, alice_ust, totp_key="")
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
    record = api.get("/zato/sso/user", {"ust": alice_ust}).json()
    assert record["is_totp_enabled"] is True
    # Leaving the key out altogether generates one too, and a different one.
    again = enable(api, alice_ust, totp_code=code_for(key, clock().timestamp())).json()["totp_key"]
    assert again != key and set(again) <= BASE32


def test_the_key_is_stored_encrypted(api, alice, alice_ust):
    key = enable(api, alice_ust).json()["totp_key"]
    user = User.objects.get(user_id=alice)
    assert user.totp_secret and key not in user.totp_secret
    assert key.lower() not in user.totp_secret.lower()
    assert totp.unseal(user.totp_secret) == key
    row = AuditEvent.objects.get(event="user.totp", outcome="ok")
    assert row.target_user_id == alice
    assert key not in str(row.extra_data)
    assert not AuditEvent.objects.filter(extra_data__icontains=key).exists()


def test_a_supplied_key_is_used(api, alice, alice_ust, clock):
    body = enable(api, alice_ust, totp_key=RFC_SECRET, totp_label="alice@phone").json()
    assert body["totp_key"] == RFC_SECRET
    assert unquote(urlsplit(body["provisioning_uri"]).path) == "/admit:alice@phone"
    assert User.objects.get(user_id=alice).totp_label == "alice@phone"
    response = log_in(api, code_for(RFC_SECRET, clock().timestamp()))
    assert response.status_code == 200, response.content


def test_a_supplied_key_may_be_lower_case_and_grouped(api, alice, alice_ust, clock):
    grouped = " ".join(RFC_SECRET[n : n + 4] for n in range(0, 32, 4)).lower()
    body = enable(api, alice_ust, totp_key=grouped).json()
    assert body["totp_key"] == RFC_SECRET
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
    response = enable(api, alice_ust, totp_key=key)
    refused(response, "E008002", status=400)
    assert response.json()["details"][0]["field"] == "totp_key"
    assert not User.objects.get(user_id=alice).is_totp_enabled
    assert log_in(api).status_code == 200


def test_enabling_needs_a_live_session(api, alice, alice_ust, clock):
    refused(enable(api, "zust" + "a" * 32), "E007001")
    clock.advance(hours=1, seconds=1)
    refused(enable(api, alice_ust), "E007002")
    assert not User.objects.get(user_id=alice).is_totp_enabled


def test_log_in_then_needs_a_valid_code(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, totp_key=RFC_SECRET)
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
    enable(api, alice_ust, totp_key=RFC_SECRET)
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
    enable(api, alice_ust, totp_key=RFC_SECRET)
    now = clock().timestamp()
    previous, current = code_for(RFC_SECRET, now - 30), code_for(RFC_SECRET, now)
    assert log_in(api, current).status_code == 200
    refused(log_in(api, previous), "E005001")


def test_one_step_of_clock_drift_is_forgiven(api, alice, alice_ust, start_of_step):
    clock = start_of_step
    enable(api, alice_ust, totp_key=RFC_SECRET)
    now = clock().timestamp()
    refused(log_in(api, code_for(RFC_SECRET, now - 60)), "E005001")  # a minute old
    assert log_in(api, code_for(RFC_SECRET, now - 30)).status_code == 200  # the phone is slow
    assert log_in(api, code_for(RFC_SECRET, now + 30)).status_code == 200  # or fast
    refused(log_in(api, code_for(RFC_SECRET, now + 60)), "E005001")


def test_a_new_key_replaces_the_old_one_only_with_a_current_code(api, alice, alice_ust, clock):
    enable(api, alice_ust, totp_key=RFC_SECRET)
    now = clock().timestamp()
    # A stolen session alone cannot swap the second factor.
    refused(enable(api, alice_ust), "E005008")
    wrong = "000000" if code_for(RFC_SECRET, now) != "000000" else "111111"
    refused(enable(api, alice_ust, totp_code=wrong), "E005001")
    new_key = enable(api, alice_ust, totp_code=code_for(RFC_SECRET, now)).json()["totp_key"]
    clock.advance(seconds=30)
    now = clock().timestamp()
    if code_for(RFC_SECRET, now) != code_for(new_key, now):
        refused(log_in(api, code_for(RFC_SECRET, now)), "E005001")
    assert log_in(api, code_for(new_key, now)).status_code == 200


def test_failed_codes_are_audited_without_the_code(api, alice, alice_ust, start_of_step):
    enable(api, alice_ust, totp_key=RFC_SECRET)
    wrong = "000000" if code_for(RFC_SECRET, start_of_step().timestamp()) != "000000" else "111111"
    log_in(api, wrong)
    row = AuditEvent.objects.filter(event="login", outcome="error").first()
    assert row.error_codes == "E005009" and row.target_user_id == alice
    assert wrong not in str(row.extra_data)
