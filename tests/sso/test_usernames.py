"""Look-alike usernames: every rule judges the NFKC, case-folded key, and
names that pass for another (mixed scripts, invisible or combining-only characters) are
refused with E001001, through the real sign-up API."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.core.names import normalize_username, skeleton, username_lookalike
from admit.sso.models import User
from tests.conftest import refused, signup_body

pytestmark = pytest.mark.django_db

SIGNUP = "/zato/sso/user/signup"


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("ａｄｍｉｎ", id="fullwidth admin"),
        pytest.param("\u0430dmin", id="Cyrillic a + Latin dmin"),
        pytest.param("ADM\u0130N", id="dotted capital I"),
        pytest.param("\u3164", id="Hangul filler"),
        pytest.param("\u3164\u3164\u3164", id="Hangul fillers"),
        pytest.param("\u2800", id="Braille blank"),
        pytest.param("\u2800\u2800", id="Braille blanks"),
        pytest.param("\u034f", id="combining grapheme joiner"),
        pytest.param("user\u034f1", id="combining grapheme joiner inside"),
        pytest.param("\u0301", id="lone combining acute"),
        pytest.param("\u0301user1", id="leading combining acute"),
        pytest.param("adm\u0131n", id="dotless i"),
        pytest.param("a\u0301dmin", id="admin with an accent"),
        pytest.param("user\u00ad1", id="soft hyphen"),
        pytest.param("user\u200d1", id="zero width joiner"),
        pytest.param("\u202euser1", id="right-to-left override"),
        pytest.param("p\u0430ypal", id="Latin with one Cyrillic letter"),
        pytest.param("\u03c9mega", id="Greek omega + Latin"),
        pytest.param("user\U000f00001", id="private use"),
        pytest.param("user\u2603", id="a symbol"),
    ],
)
def test_lookalike_names_are_refused(api, username):
    refused(api.post(SIGNUP, signup_body(username=username)), "E001001")
    assert not User.objects.exists()
    # The refusal is audited, with the name as typed.
    row = AuditEvent.objects.get(event="signup")
    assert row.outcome == "error" and row.error_codes == "E001001"


@pytest.mark.parametrize(
    "username",
    ["José", "Анна", "山田太郎", "やまだTaro", "김철수", "Δημήτρης", "Zoë", "Łukasz", "user_1.x-y"],
)
def test_a_name_in_one_script_is_accepted(api, username):
    response = api.post(SIGNUP, signup_body(username=username))
    assert response.status_code == 200, response.content
    user = User.objects.get()
    assert user.username == username
    assert user.username_key == normalize_username(username)


@pytest.mark.parametrize("username", ["ADMIN", "Admin", "xAdminx", "ROOT", "Zato"])
def test_reserved_words_whatever_the_case(api, username):
    refused(api.post(SIGNUP, signup_body(username=username)), "E001001")
    assert not User.objects.exists()


def test_a_fullwidth_letter_makes_the_same_key(api):
    assert api.post(SIGNUP, signup_body(username="alice")).status_code == 200
    assert normalize_username("\uff21lice") == "alice" == User.objects.get().username_key
    second = signup_body(username="\uff21lice", email="other@example.com")
    refused(api.post(SIGNUP, second), "E001002")
    assert User.objects.count() == 1


def test_fullwidth_whitespace_is_whitespace(api):
    # U+3000 IDEOGRAPHIC SPACE is a space once normalised, and the whitespace rule says so.
    refused(api.post(SIGNUP, signup_body(username="user\u30001")), "E001004")


def test_the_length_rule_counts_the_key_too(api):
    # U+3300 SQUARE APAATO is one character that NFKC makes four: アパート.
    name = "\u3300" * 40
    assert len(name) <= 128 < len(normalize_username(name))
    refused(api.post(SIGNUP, signup_body(username=name)), "E001003")


@pytest.mark.parametrize(
    "email",
    [
        "adm\u0131n@example.com",  # dotless i: Django's address check lets it through
        "ADM\u0130N@example.com",
        "user1@ex\u0430mple.com",  # a Cyrillic a in a Latin label
        "user1@ex\u200bample.com",
    ],
)
def test_lookalike_addresses_are_refused(api, email):
    refused(api.post(SIGNUP, signup_body(email=email)), "E002001")
    assert not User.objects.exists()


def test_an_address_in_another_script_than_its_domain_is_accepted(api):
    response = api.post(SIGNUP, signup_body(email="user1@\u043f\u0440\u0438\u043c\u0435\u0440.com"))
    assert response.status_code == 200, response.content


def test_a_super_user_cannot_create_a_lookalike_either(api, admin_ust):
    body = {
        "ust": admin_ust,
        "username": "b\u043ess",  # Cyrillic o: "boss" is the super-user
        "email": "other@example.com",
        "password": "VrF57-H31 7!HIj%fSAz :L9",
    }
    refused(api.post("/zato/sso/user", body), "E001001")


def test_rules_judge_the_key_not_the_text():
    assert username_lookalike(normalize_username("ＡＢＣ")) is None
    assert skeleton(normalize_username("ADM\u0130N")) == "admin"
    assert "scripts" in (username_lookalike("\u0430dmin") or "")
    # A name whose key changes when normalised again is refused.
    unstable = normalize_username("\u1e9e\u0301")  # capital sharp s + acute: "ss" + U+0301
    assert normalize_username(unstable) != unstable
    assert username_lookalike(unstable) is not None
