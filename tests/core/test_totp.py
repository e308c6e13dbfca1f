"""admit.core.totp: RFC 6238 codes, the window, single use, the otpauth URI, sealing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from admit.core import totp

# RFC 6238, appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        # The RFC's 8-digit values, of which a 6-digit code is the last six digits.
        (59, "287082"),  # 94287082
        (1111111109, "081804"),  # 07081804
        (1111111111, "050471"),  # 14050471
        (1234567890, "005924"),  # 89005924
        (2000000000, "279037"),  # 69279037
        (20000000000, "353130"),  # 65353130
    ],
)
def test_rfc_6238_test_vectors(unix_time, code):
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.code_at(RFC_SECRET, totp.step_of(at(unix_time))) == code


def test_codes_keep_their_leading_zeros():
    assert totp.code_at(RFC_SECRET, totp.step_of(at(1234567890))) == "005924"
    assert len(totp.code_at(RFC_SECRET, 0)) == 6


def test_a_step_is_thirty_seconds():
    assert totp.step_of(at(0)) == totp.step_of(at(29)) == 0
    assert totp.step_of(at(30)) == 1
    assert totp.step_of(at(59)) == 1
    assert totp.step_of(at(1111111109)) == 37037036


def test_secrets_are_padded_or_not_and_case_blind():
    step = totp.step_of(at(59))
    assert totp.code_at(RFC_SECRET.lower(), step) == "287082"
    padded = base64.b32encode(b"1234567890123456").decode()  # ends in "======"
    assert padded.endswith("=")
    assert totp.code_at(padded, step) == totp.code_at(padded.rstrip("="), step)


def test_new_secrets_are_base32_of_160_bits_and_unique():
    made = {totp.new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
        assert totp.is_valid_secret(secret)


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        (RFC_SECRET, True),  # 160 bits
        (base64.b32encode(bytes(16)).decode(), True),  # 128 bits: the least accepted
        (base64.b32encode(bytes(15)).decode(), False),  # 120 bits
        ("JBSWY3DPEHPK3PXP", False),  # the 80-bit key of many examples
        ("", False),
        ("not base32 at all!", False),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", False),  # 1 is not in the alphabet
        ("GEZDGNBV=Y3TQOJQGEZDGNBVGY3TQOJQ", False),
    ],
)
def test_is_valid_secret(secret, valid):
    assert totp.is_valid_secret(secret) is valid


def test_matching_step_accepts_one_step_of_drift_either_way():
    now = at(1111111109)
    current = totp.step_of(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, current + offset)
        assert totp.matching_step(RFC_SECRET, code, now, None) == current + offset
    for offset in (-2, 2, -10):
        code = totp.code_at(RFC_SECRET, current + offset)
        assert totp.matching_step(RFC_SECRET, code, now, None) is None
    assert totp.matching_step(RFC_SECRET, "", now, None) is None
    assert totp.matching_step(RFC_SECRET, "081804 ", now, None) is None


def test_a_used_step_and_older_ones_are_refused():
    now = at(1111111109)
    current = totp.step_of(now)
    code = totp.code_at(RFC_SECRET, current)
    assert totp.matching_step(RFC_SECRET, code, now, current) is None  # the same code again
    earlier = totp.code_at(RFC_SECRET, current - 1)
    assert totp.matching_step(RFC_SECRET, earlier, now, current) is None  # an older one
    later = totp.code_at(RFC_SECRET, current + 1)
    assert totp.matching_step(RFC_SECRET, later, now, current) == current + 1


def test_provisioning_uri_for_authenticator_apps():
    uri = totp.provisioning_uri(RFC_SECRET, "alice@example.com")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/admit:alice@example.com"
    query = parse_qs(parts.query)
    assert query == {"secret": [RFC_SECRET], "issuer": ["admit"]}


def test_a_label_cannot_inject_parameters():
    uri = totp.provisioning_uri(RFC_SECRET, "eve?secret=AAAA&issuer=evil #x")
    parts = urlsplit(uri)
    assert parse_qs(parts.query) == {"secret": [RFC_SECRET], "issuer": ["admit"]}
    assert unquote(parts.path) == "/admit:eve?secret=AAAA&issuer=evil #x"
    assert parts.fragment == ""
    # A slash would split the path an app reads the account name from.
    assert urlsplit(totp.provisioning_uri(RFC_SECRET, "ops/alice")).path == "/admit:ops%2Falice"


def test_sealed_secrets_do_not_show_the_secret_and_open_again():
    sealed = totp.seal(RFC_SECRET)
    assert RFC_SECRET not in sealed
    assert RFC_SECRET.lower() not in sealed.lower()
    assert totp.seal(RFC_SECRET) != sealed  # a fresh nonce each time
    assert totp.unseal(sealed) == RFC_SECRET


def test_a_secret_sealed_under_another_secret_key_does_not_open(settings):
    sealed = totp.seal(RFC_SECRET)
    settings.SECRET_KEY = "another secret key, another deployment, 1234567890"
    assert totp.unseal(sealed) is None
    assert totp.unseal("not even a token") is None
