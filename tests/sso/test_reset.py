"""/zato/sso/password/reset: ask (POST), open the e-mailed token (PATCH), set the password
(DELETE); what an outsider can learn, expiry, one-time use, and the rate limit."""

from __future__ import annotations

import re

import pytest

from admit.audit.models import AuditEvent
from admit.confirmations.models import Confirmation
from admit.core.secrets import digest
from admit.mail.models import OutgoingEmail
from admit.sso.models import Session, User
from tests.conftest import GOOD_PASSWORD, ApiClient, codes, make_user, refused

pytestmark = pytest.mark.django_db

RESET = "/zato/sso/password/reset"
LOGIN = "/zato/sso/user/login"
NEW_PASSWORD = "Seven swallows over the plum tree"
TOKEN = re.compile(r"zcnt[0-9a-f]{32}")


def log_in(api, password: str, name: str = "alice"):
    return api.post(LOGIN, {"username": name, "password": password, "current_app": "CRM"})


def is_live(api, ust: str) -> bool:
    """Whether ``ust`` is live, as its owner learns it: by listing their own sessions."""
    return api.get("/zato/sso/user/session/list", {"ust": ust}).status_code == 200


def ask(api, credential: str):
    return api.post(RESET, {"credential": credential, "current_app": "CRM"})


def mailed_token(to: str = "alice@example.com") -> str:
    """The token in the newest reset e-mail to ``to``."""
    email = OutgoingEmail.objects.filter(template="password_reset", to=to).order_by("-id").first()
    assert email is not None
    (token,) = set(TOKEN.findall(email.body_text))
    assert token in email.body_html
    return token


def open_(api, token: str):
    return api.call("PATCH", RESET, {"token": token})


def finish(api, token: str, reset_key: str, password: str = NEW_PASSWORD):
    return api.call("DELETE", RESET, {"token": token, "reset_key": reset_key, "password": password})


def reset_key_for(api, token: str) -> str:
    response = open_(api, token)
    assert response.status_code == 200, response.content
    return response.json()["reset_key"]


@pytest.fixture
def alice(api, admin_ust) -> str:
    return make_user(api, admin_ust, "alice")


# Asking


def test_the_answer_is_the_same_whether_or_not_the_account_exists(api, alice):
    answers = [ask(api, credential) for credential in ("alice", "alice@example.com", "nobody")]
    answers.append(ask(api, "nobody@example.com"))
    for answer in answers:
        assert answer.status_code == 200, answer.content
        assert set(answer.json()) == {"status", "cid"} and answer.json()["status"] == "ok"
        assert answer["Content-Type"] == answers[0]["Content-Type"]
    # Only the two that named alice's account queued an e-mail, both to her.
    sent = OutgoingEmail.objects.filter(template="password_reset")
    assert sorted(email.to for email in sent) == ["alice@example.com", "alice@example.com"]
    assert OutgoingEmail.objects.count() == 2


def test_the_email_carries_a_one_time_token(api, alice):
    ask(api, "ALICE")  # usernames are matched as they are at log-in: case-blind
    email = OutgoingEmail.objects.get(template="password_reset")
    assert email.to == "alice@example.com"
    assert "alice" in email.subject
    token = mailed_token()
    assert "24 hours" in email.body_text
    # Stored only as a digest.
    confirmation = Confirmation.objects.get(key_digest=digest(token))
    assert confirmation.kind == "password_reset"
    assert not Confirmation.objects.filter(key_digest=token).exists()


def test_the_request_is_audited_without_telling_the_caller(api, alice):
    ask(api, "alice")
    ask(api, "nobody")
    known, unknown = AuditEvent.objects.filter(event="password.reset_request").order_by("id")
    assert (known.outcome, known.target_user_id, known.extra_data["sent"]) == ("ok", alice, True)
    assert (unknown.outcome, unknown.target_user_id) == ("ok", "")
    assert unknown.extra_data["sent"] is False
    assert "zcnt" not in str(known.extra_data)


def test_locked_and_unapproved_accounts_get_no_email(api, admin_ust, alice):
    api.post("/zato/sso/user/lock", {"ust": admin_ust, "user_id": alice})
    make_user(api, admin_ust, "bob")
    bob = User.objects.get(username="bob").user_id
    api.call(
        "PATCH",
        "/zato/sso/user",
        {"ust": admin_ust, "user_id": bob, "approval_status": "before_decision"},
    )
    assert ask(api, "alice").status_code == ask(api, "bob").status_code == 200
    assert not OutgoingEmail.objects.filter(template="password_reset").exists()


# The whole reset


def test_reset_changes_the_password_and_ends_every_session(api, admin_ust, alice):
    sessions = [log_in(api, GOOD_PASSWORD).json()["ust"] for _ in range(2)]
    ask(api, "alice@example.com")
    token = mailed_token()

    opened = open_(api, token)
    assert opened.status_code == 200, opened.content
    assert set(opened.json()) == {"status", "cid", "reset_key"}
    reset_key = opened.json()["reset_key"]
    assert TOKEN.fullmatch(reset_key) and reset_key != token

    done = finish(api, token, reset_key)
    assert done.status_code == 200, done.content
    assert set(done.json()) == {"status", "cid"}

    refused(log_in(api, GOOD_PASSWORD), "E005001")
    assert log_in(api, NEW_PASSWORD).status_code == 200
    assert not any(is_live(api, ust) for ust in sessions)
    assert is_live(api, admin_ust)  # nobody else's

    notice = OutgoingEmail.objects.get(template="password_changed")
    assert notice.to == "alice@example.com"
    assert "alice" in notice.body_text and "every session" in notice.body_text

    # Nothing can be replayed.
    refused(finish(api, token, reset_key, "Another password entirely"), "E010001")
    refused(open_(api, token), "E010001")
    assert log_in(api, NEW_PASSWORD).status_code == 200

    row = AuditEvent.objects.get(event="password.reset", outcome="ok")
    assert row.target_user_id == alice
    assert NEW_PASSWORD not in str(AuditEvent.objects.values_list("extra_data", flat=True))


def test_a_token_opens_once(api, alice):
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    refused(open_(api, token), "E010001")
    # The first key still works.
    assert finish(api, token, reset_key).status_code == 200


def test_a_reset_key_goes_only_with_its_own_users_token(api, admin_ust, alice):
    make_user(api, admin_ust, "bob")
    ask(api, "alice")
    ask(api, "bob")
    alice_token, bob_token = mailed_token(), mailed_token("bob@example.com")
    alice_key = reset_key_for(api, alice_token)
    reset_key_for(api, bob_token)
    refused(finish(api, bob_token, alice_key), "E010001")
    refused(finish(api, "zcnt" + "0" * 32, alice_key), "E010001")
    refused(finish(api, "garbage", alice_key), "E010001")
    assert log_in(api, GOOD_PASSWORD).status_code == 200
    assert log_in(api, GOOD_PASSWORD, "bob").status_code == 200


def test_the_token_is_not_a_reset_key_nor_the_other_way_round(api, alice):
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    refused(finish(api, token, token), "E010001")
    refused(open_(api, reset_key), "E010001")
    assert finish(api, token, reset_key).status_code == 200


def test_an_unopened_token_cannot_finish_a_reset(api, alice):
    ask(api, "alice")
    first = mailed_token()
    ask(api, "alice")
    second = mailed_token()
    key_of_first = reset_key_for(api, first)
    # The second token was never opened: it does not vouch for any key.
    refused(finish(api, second, key_of_first), "E010001")


def test_every_unusable_token_or_key_is_e010001_as_zato_and_the_audit_keeps_why(api, alice):
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    assert finish(api, token, reset_key).status_code == 200
    refused(open_(api, token), "E010001")  # spent
    refused(finish(api, token, reset_key), "E010001")  # spent key
    refused(open_(api, "zcnt" + "0" * 32), "E010001")  # unknown
    rows = AuditEvent.objects.filter(outcome="error").order_by("id")
    assert [(row.event, row.error_codes) for row in rows] == [
        ("password.reset_open", "E005007"),
        ("password.reset", "E005007"),
        ("password.reset_open", "E005006"),
    ]


def test_a_reset_ends_every_session_of_the_user(api, admin_ust, alice):
    sessions = [log_in(api, GOOD_PASSWORD).json()["ust"] for _ in range(3)]
    ask(api, "alice")
    token = mailed_token()
    assert finish(api, token, reset_key_for(api, token)).status_code == 200
    for ust in sessions:
        check = api.post("/zato/sso/user/session", {"current_ust": admin_ust, "target_ust": ust})
        assert check.json()["is_valid"] is False
    assert not Session.objects.filter(user__user_id=alice).exists()


def test_unknown_and_malformed_tokens(api, db):
    refused(open_(api, "zcnt" + "0" * 32), "E010001")
    refused(open_(api, "not a token"), "E010001")
    refused(open_(api, ""), "E010001")


def test_a_finished_reset_revokes_the_users_other_links(api, alice):
    ask(api, "alice")
    other_token = mailed_token()
    ask(api, "alice")
    token = mailed_token()
    assert other_token != token
    ask(api, "alice")
    opened_token = mailed_token()
    other_key = reset_key_for(api, opened_token)
    assert finish(api, token, reset_key_for(api, token)).status_code == 200
    refused(open_(api, other_token), "E010001")
    refused(finish(api, opened_token, other_key, "Yet another passphrase"), "E010001")
    assert log_in(api, NEW_PASSWORD).status_code == 200


def test_an_invalid_new_password_changes_nothing(api, alice):
    session = log_in(api, GOOD_PASSWORD).json()["ust"]
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    for bad, code in (("password123", "E003001"), ("short", "E003002"), ("x" * 257, "E003003")):
        refused(finish(api, token, reset_key, bad), code)
    assert log_in(api, GOOD_PASSWORD).status_code == 200
    assert is_live(api, session)
    assert not OutgoingEmail.objects.filter(template="password_changed").exists()
    # The key was not spent by the refusal: a good password still goes through.
    assert finish(api, token, reset_key).status_code == 200
    assert log_in(api, NEW_PASSWORD).status_code == 200


def test_a_reset_clears_an_expired_or_must_change_password(api, admin_ust, alice):
    api.call(
        "PATCH",
        "/zato/sso/user/password",
        {
            "ust": admin_ust,
            "user_id": alice,
            "new_password": GOOD_PASSWORD,
            "must_change": True,
        },
    )
    api.call(
        "PATCH",
        "/zato/sso/user",
        {"ust": admin_ust, "user_id": alice, "password_expiry": "2001-01-01T00:00:00+00:00"},
    )
    refused(log_in(api, GOOD_PASSWORD), "E003004")
    ask(api, "alice")
    token = mailed_token()
    assert finish(api, token, reset_key_for(api, token)).status_code == 200
    response = log_in(api, NEW_PASSWORD)
    assert response.status_code == 200 and response.json()["status"] == "ok"


# Expiry


def test_the_token_expires_after_token_max_age(api, alice, clock, policy):
    policy(reset={"token_max_age": 600})
    ask(api, "alice")
    early = mailed_token()
    ask(api, "alice")
    late = mailed_token()
    clock.advance(seconds=599)
    assert open_(api, early).status_code == 200
    clock.advance(seconds=2)
    refused(open_(api, late), "E010001")


def test_the_default_token_lives_a_day(api, alice, clock):
    ask(api, "alice")
    token = mailed_token()
    clock.advance(hours=24, seconds=1)
    refused(open_(api, token), "E010001")


def test_the_reset_key_expires_after_reset_key_max_age(api, alice, clock, policy):
    policy(reset={"reset_key_max_age": 300})
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    clock.advance(seconds=301)
    refused(finish(api, token, reset_key), "E010001")
    assert log_in(api, GOOD_PASSWORD).status_code == 200
    assert not OutgoingEmail.objects.filter(template="password_changed").exists()


def test_a_reset_key_just_before_its_expiry_works(api, alice, clock):
    ask(api, "alice")
    token = mailed_token()
    reset_key = reset_key_for(api, token)
    clock.advance(seconds=899)
    assert finish(api, token, reset_key).status_code == 200


# Not through the generic confirmation page


def test_a_reset_token_is_unknown_to_the_confirmation_page(api, alice):
    ask(api, "alice")
    token = mailed_token()
    page = api.client.get(f"/confirm/{token}/")
    assert page.status_code == 404
    assert b"Unknown link" in page.content
    pressed = api.client.post(f"/confirm/{token}/")
    assert pressed.status_code == 404
    assert b"Unknown link" in pressed.content
    # Neither spent it.
    assert Confirmation.objects.get(key_digest=digest(token)).used_at is None
    reset_key = reset_key_for(api, token)
    assert api.client.post(f"/confirm/{reset_key}/").status_code == 404
    assert finish(api, token, reset_key).status_code == 200


# Rate limits


def from_address(address: str) -> ApiClient:
    client = ApiClient()
    client.client.defaults["REMOTE_ADDR"] = address
    return client


def sent_resets() -> int:
    return OutgoingEmail.objects.filter(template="password_reset").count()


def test_the_fourth_request_for_one_credential_from_one_address_is_refused(api, alice, clock):
    for _ in range(3):
        assert ask(api, "alice").status_code == 200
    limited = ask(api, "alice")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 3600
    assert limited.json()["status"] == "error" and codes(limited) == ["E005001"]
    assert sent_resets() == 3
    clock.advance(seconds=int(limited["Retry-After"]))
    assert ask(api, "alice").status_code == 200


def test_a_username_and_its_address_are_counted_apart(api, alice, clock):
    """Counting per account would answer 429 only when both credentials name one account,
    which tells a username's address; each credential as typed is counted on its own."""
    for credential in ("alice", "ALICE", "Alice", "alice@example.com", "Alice@Example.com"):
        assert ask(api, credential).status_code == 200
    assert ask(api, "alice@example.com").status_code == 200
    assert ask(api, "alice").status_code == 429
    assert ask(api, "alice@example.com").status_code == 429


def test_an_unknown_credential_is_limited_just_the_same(api, alice, clock):
    known = [ask(api, "alice").status_code for _ in range(4)]
    unknown = [ask(api, "nobody").status_code for _ in range(4)]
    assert known == unknown == [200, 200, 200, 429]


def test_a_strangers_requests_never_keep_the_owner_from_resetting(api, alice, clock):
    assert log_in(api, GOOD_PASSWORD).status_code == 200  # the owner's usual address
    for number in range(8):
        assert ask(from_address(f"10.66.0.{number}"), "alice").status_code == 200
    # Past five e-mails an hour for one credential, a stranger's requests answer the same
    # but send nothing more...
    assert sent_resets() == 5
    # ... and the owner, asking from an address the account has logged in from, gets one.
    assert ask(api, "alice").status_code == 200
    assert sent_resets() == 6
    held = AuditEvent.objects.filter(event="password.reset_request", extra_data__sent=False)
    assert held.count() == 3


def test_the_limit_is_configurable(api, alice, policy, clock):
    policy(rate_limits={"resets_per_credential_address": (2, 3600)})
    assert ask(api, "alice").status_code == ask(api, "alice").status_code == 200
    assert ask(api, "alice").status_code == 429


def test_the_per_address_limit(api, admin_ust, alice, policy, clock):
    policy(rate_limits={"emails_per_address": (3, 60)})
    for credential in ("alice", "bob", "carol"):
        assert ask(api, credential).status_code == 200
    limited = ask(api, "dave")
    assert limited.status_code == 429 and limited["Retry-After"]
