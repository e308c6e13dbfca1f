"""The pages for people: sign up, log in and out, reset a password, and "my account", through
Django's test client. Each test checks what a person sees or can do, not the codes."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from admit.core import totp
from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.sso.flows import NewUser, create_user
from admit.sso.models import Session, User
from tests.conftest import GOOD_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Seven swallows over the plum tree"
RESET_TOKEN = re.compile(r"zcnt[0-9a-f]{32}")


def text(response) -> str:
    """The page's visible words, roughly: tags removed, entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_error(response, name: str) -> str:
    """The error sentence shown right under the field ``name`` (empty when there is none)."""
    html = response.content.decode()
    found = re.search(rf'<p class="field-error" id="id_{name}_error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else ""


def value_of(response, name: str) -> str | None:
    tag = re.search(rf'<input id="id_{name}"[^>]*>', response.content.decode())
    assert tag, f"no field {name}"
    value = re.search(r' value="([^"]*)"', tag.group(0))
    return unescape(value.group(1)) if value else None


def sign_up(client: Client, **changes: str):
    form = {
        "username": "alice",
        "email": "alice@example.com",
        "password": GOOD_PASSWORD,
        "display_name": "Alice",
    }
    form.update(changes)
    return client.post("/signup/", form)


@pytest.fixture
def alice(admin_ust) -> User:
    new = NewUser("alice", "alice@example.com", GOOD_PASSWORD, auto_approve=True)
    return create_user(admin_ust, new, Caller())


def log_in(client: Client, password: str = GOOD_PASSWORD, next_page: str = "", **more: str):
    path = "/login/" + (f"?next={next_page}" if next_page else "")
    return client.post(path, {"username": "alice", "password": password, **more})


@pytest.fixture
def browser(alice) -> Client:
    """A browser logged in as alice."""
    client = Client(HTTP_USER_AGENT="Firefox on the laptop", REMOTE_ADDR="10.0.0.7")
    assert log_in(client).status_code == 302
    return client


# Sign-up


def test_signup_form_is_labelled_and_ready_for_password_managers(db):
    page = Client().get("/signup/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in html
    for name, autocomplete in [
        ("username", "username"),
        ("email", "email"),
        ("password", "new-password"),
    ]:
        assert f'<label for="id_{name}">' in html
        assert re.search(rf'id="id_{name}"[^>]*autocomplete="{autocomplete}"', html)


def test_signup_success_says_to_check_the_email(db):
    page = sign_up(Client())
    assert page.status_code == 200
    assert "Check your e-mail" in text(page)
    assert "alice@example.com" in text(page)
    user = User.objects.get(username="alice")
    assert user.signup_app == "CRM" and user.display_name == "Alice"
    mail = OutgoingEmail.objects.get(to="alice@example.com")
    assert "/confirm/" in mail.body_text


def test_signup_for_an_app_named_in_the_address(db):
    assert sign_up(Client(), username="bob", email="bob@example.com").status_code == 200
    page = Client().post(
        "/signup/?app=ERP",
        {"username": "carol", "email": "carol@example.com", "password": GOOD_PASSWORD},
    )
    assert page.status_code == 200
    assert User.objects.get(username="carol").signup_app == "ERP"
    assert Client().get("/signup/?app=Nope").status_code == 404


def test_signup_without_confirmation_or_approval_says_log_in_now(db, policy):
    policy(signup={"confirmation_required": False, "approval_required": False})
    page = sign_up(Client())
    assert "You are signed up" in text(page)
    assert 'href="/login/"' in page.content.decode()


def test_signup_without_confirmation_but_with_approval_says_waiting(db, policy):
    policy(signup={"confirmation_required": False})
    assert "Waiting for approval" in text(sign_up(Client()))


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"username": "al ice"}, "username", "cannot contain spaces"),
        ({"username": "the-admin"}, "username", "cannot be used"),
        ({"username": "a" * 129}, "username", "too long"),
        ({"email": "not-an-address"}, "email", "not an e-mail address"),
        ({"email": ""}, "email", "Enter your e-mail address"),
        ({"password": "short"}, "password", "too short: use at least 8"),
        ({"password": "password123"}, "password", "most common"),
    ],
)
def test_signup_errors_are_next_to_their_field_and_keep_what_was_typed(db, changes, field, words):
    typed = {
        "username": "alice",
        "email": "alice@example.com",
        "password": GOOD_PASSWORD,
        "display_name": "Alice A.",
    }
    typed.update(changes)
    page = sign_up(Client(), **typed)
    assert page.status_code == 400
    assert words in field_error(page, field)
    for other in {"username", "email", "password"} - {field}:
        assert field_error(page, other) == ""
    assert not re.search(r"E\d{6}", text(page)), "codes are for machines"
    for name in ("username", "email", "display_name"):
        assert value_of(page, name) == (typed[name] or None)
    assert value_of(page, "password") is None
    assert f'value="{typed["password"]}"' not in page.content.decode()
    assert not User.objects.exists()


def test_signup_names_every_problem_at_once(db):
    page = sign_up(Client(), username="a b", email="x", password="short")
    assert field_error(page, "username") and field_error(page, "email")
    assert field_error(page, "password")


def test_a_taken_username_is_told_next_to_it(db):
    sign_up(Client())
    page = sign_up(Client(), email="other@example.com")
    assert "taken" in field_error(page, "username")


def test_a_taken_username_and_a_common_password_are_told_together(db):
    sign_up(Client())
    page = sign_up(Client(), email="other@example.com", password="password123")
    assert page.status_code == 400
    assert "taken" in field_error(page, "username")
    assert "most common" in field_error(page, "password")
    assert field_error(page, "email") == ""


def test_a_taken_address_is_not_among_the_problems_told(db):
    sign_up(Client())
    taken = sign_up(Client(), username="alice2", password="password123")
    fresh = sign_up(Client(), username="alice3", email="a3@example.com", password="password123")
    assert taken.status_code == fresh.status_code == 400
    assert field_error(taken, "email") == field_error(fresh, "email") == ""
    assert field_error(taken, "password") == field_error(fresh, "password") != ""


def test_hidden_codes_stay_hidden_on_the_page(db, policy):
    policy(signup={"inform_if_user_exists": False})
    sign_up(Client())
    page = sign_up(Client(), email="other@example.com")
    assert page.status_code == 400
    assert field_error(page, "username") == ""
    assert "We could not sign you up with these details." in text(page)
    assert "taken" not in text(page)


def test_a_taken_address_looks_like_a_fresh_signup(db):
    sign_up(Client())
    page = sign_up(Client(), username="alice2")
    assert "Check your e-mail" in text(page)
    assert not User.objects.filter(username="alice2").exists()


def test_signup_switched_off_shows_a_closed_page(db, policy):
    policy(signup={"enabled": False})
    page = Client().get("/signup/")
    assert page.status_code == 404 and "Sign-up is closed" in text(page)


def test_forms_refuse_a_post_without_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    assert sign_up(client, username="mallory").status_code == 403
    assert log_in(client).status_code == 403
    assert client.post("/password/reset/", {"credential": "alice"}).status_code == 403
    assert not User.objects.filter(username="mallory").exists()
    # With the token from the page, the same post works.
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    answer = log_in(client, csrfmiddlewaretoken=token.group(1))
    assert answer.status_code == 302


# Log-in and log-out


def test_login_starts_a_session_and_goes_to_the_account(alice):
    client = Client()
    client.get("/login/")
    before = client.session.session_key
    answer = log_in(client)
    assert answer.status_code == 302 and answer["Location"] == "/account/"
    assert client.session["admit_ust"].startswith("zust")
    assert client.session.session_key != before
    page = client.get("/account/")
    assert page.status_code == 200 and "Logged in as alice" in text(page)


def test_login_goes_to_a_local_next_page(alice):
    answer = log_in(Client(), next_page="/account/%23sessions")
    assert answer["Location"] == "/account/#sessions"


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_refuses_an_open_redirect(alice, evil):
    answer = Client().post(
        "/login/", {"username": "alice", "password": GOOD_PASSWORD, "next": evil}
    )
    assert answer.status_code == 302 and answer["Location"] == "/account/"


def test_a_wrong_password_is_told_plainly_and_keeps_the_username(alice):
    page = log_in(Client(), password="wrong password!")
    assert page.status_code == 400
    assert "The username or the password is not right." in text(page)
    assert value_of(page, "username") == "alice"
    assert value_of(page, "password") is None


def test_an_unconfirmed_or_unapproved_account_is_told_what_to_do(db):
    sign_up(Client())
    page = log_in(Client())
    assert "confirm" in text(page) and "e-mail we sent you" in text(page)
    User.objects.filter(username="alice").update(confirmed_at="2025-01-01T00:00:00Z")
    page = log_in(Client())
    assert "waiting for approval" in text(page)


def test_too_many_failures_say_when_to_try_again(alice, policy, clock):
    policy(rate_limits={"login_failures_per_address": (2, 600)})
    client = Client()
    log_in(client, password="wrong 1")
    log_in(client, password="wrong 2")
    page = log_in(client)
    assert page.status_code == 429
    assert re.search(r"Too many attempts\. Try again in \d+ minutes?\.", text(page))


def test_totp_prompt_at_login(browser, alice, clock):
    key = totp.new_secret()
    alice.totp_secret, alice.is_totp_enabled = totp.seal(key), True
    alice.save()
    client = Client()
    page = log_in(client)
    assert page.status_code == 400
    assert "Enter the 6-digit code" in text(page)
    assert re.search(r'id="id_totp_code"[^>]*autocomplete="one-time-code"', page.content.decode())
    assert value_of(page, "username") == "alice"
    wrong = log_in(client, totp_code="000000", totp_step="1")
    # As the API, the page does not say which of the password and the code was wrong.
    assert "The password or the code is not right" in text(wrong)
    code = totp.code_at(key, totp.step_of(clock()))
    assert log_in(client, totp_code=code, totp_step="1").status_code == 302


def test_a_password_that_must_change_asks_for_a_new_one(alice):
    alice.password_must_change = True
    alice.save()
    client = Client()
    page = log_in(client)
    assert "You must choose a new password" in text(page)
    assert re.search(r'id="id_new_password"[^>]*autocomplete="new-password"', page.content.decode())
    short = log_in(client, new_password="short", new_password_step="1")
    assert "too short" in field_error(short, "new_password")
    assert log_in(client, new_password=NEW_PASSWORD, new_password_step="1").status_code == 302
    assert log_in(Client(), password=NEW_PASSWORD).status_code == 302


def test_logout_is_post_only_and_ends_the_session(browser):
    ust = browser.session["admit_ust"]
    assert browser.get("/logout/").status_code == 405
    answer = browser.post("/logout/")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert "admit_ust" not in browser.session
    assert not Session.objects.filter(user__username="alice").exists(), ust
    assert browser.get("/account/").status_code == 302


# Password reset


def test_reset_end_to_end_with_the_emailed_token(alice, browser):
    asked = Client().post("/password/reset/", {"credential": "alice@example.com"})
    unknown = Client().post("/password/reset/", {"credential": "nobody@example.com"})
    assert asked.status_code == unknown.status_code == 200
    assert text(asked) == text(unknown)
    mail = OutgoingEmail.objects.get(template="password_reset")
    token = RESET_TOKEN.search(mail.body_text).group(0)

    client = Client()
    mismatch = client.post(
        "/password/reset/set/",
        {"token": token, "new_password": NEW_PASSWORD, "new_password_again": "other"},
    )
    assert "not the same" in field_error(mismatch, "new_password_again")
    assert value_of(mismatch, "token") == token
    short = client.post(
        "/password/reset/set/",
        {"token": token, "new_password": "short", "new_password_again": "short"},
    )
    assert "too short" in field_error(short, "new_password")
    done = client.post(
        "/password/reset/set/",
        {"token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert done.status_code == 200 and "Your password is changed" in text(done)
    assert log_in(Client(), password=NEW_PASSWORD).status_code == 302
    assert browser.get("/account/").status_code == 302, "the old session ended"
    again = client.post(
        "/password/reset/set/",
        {"token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert "already used" in field_error(again, "token")


def test_an_unknown_reset_token_is_told_plainly(db):
    page = Client().post(
        "/password/reset/set/",
        {
            "token": "zcnt" + "0" * 32,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert page.status_code == 400
    # E010001 (Zato's, whatever the reason) has its own plain sentence by the token field.
    assert "cannot be used any more" in field_error(page, "token")


# My account


@pytest.mark.parametrize("path", ["/account/", "/account/totp/"])
def test_account_pages_need_a_login(db, path):
    answer = Client().get(path)
    assert answer.status_code == 302
    assert answer["Location"] == f"/login/?next={path.replace('/', '%2F')}"
    assert Client().post("/account/profile/", {"display_name": "x"}).status_code == 302


def test_an_ended_admit_session_sends_back_to_login(browser):
    Session.objects.all().delete()
    answer = browser.get("/account/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_the_profile_is_saved(browser, alice):
    answer = browser.post(
        "/account/profile/", {"display_name": "Al", "first_name": "Alice", "last_name": "Liddell"}
    )
    assert answer.status_code == 302
    page = browser.get(answer["Location"])
    assert "Your profile is saved." in text(page)
    assert value_of(page, "last_name") == "Liddell"
    alice.refresh_from_db()
    assert (alice.display_name, alice.first_name, alice.last_name) == ("Al", "Alice", "Liddell")


def test_the_password_is_changed_and_this_session_stays(browser, alice):
    other = Client()
    log_in(other)
    wrong = browser.post(
        "/account/password/", {"old_password": "not it", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 400
    assert "current password is not right" in field_error(wrong, "old_password")
    short = browser.post(
        "/account/password/", {"old_password": GOOD_PASSWORD, "new_password": "short"}
    )
    assert "too short" in field_error(short, "new_password")
    answer = browser.post(
        "/account/password/", {"old_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert answer.status_code == 302
    assert browser.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    assert log_in(Client(), password=NEW_PASSWORD).status_code == 302


def test_totp_set_up_shows_a_qr_code_and_needs_a_code_from_it(browser, alice, clock):
    page = browser.get("/account/totp/")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    key = browser.session["admit_pending_totp"]
    assert key[:4] in html
    wrong = browser.post("/account/totp/", {"code": "000000"})
    assert wrong.status_code == 400 and "wrong" in field_error(wrong, "code")
    alice.refresh_from_db()
    assert not alice.is_totp_enabled
    code = totp.code_at(key, totp.step_of(clock()))
    assert browser.post("/account/totp/", {"code": code}).status_code == 302
    alice.refresh_from_db()
    assert alice.is_totp_enabled
    assert "log-ins ask for a code" in text(browser.get("/account/"))

    # Replacing the key needs a code from the current one.
    browser.get("/account/totp/")
    new_key = browser.session["admit_pending_totp"]
    clock.advance(seconds=30)
    new_code = totp.code_at(new_key, totp.step_of(clock()))
    refused = browser.post("/account/totp/", {"code": new_code})
    assert "Enter the 6-digit code" in field_error(refused, "current_code")
    current = totp.code_at(key, totp.step_of(clock()))
    assert (
        browser.post("/account/totp/", {"code": new_code, "current_code": current}).status_code
        == 302
    )


def test_my_sessions_lists_devices_and_ends_one(browser, alice):
    phone = Client(HTTP_USER_AGENT="Safari on the phone", REMOTE_ADDR="10.0.0.9")
    log_in(phone)
    page = browser.get("/account/")
    words = text(page)
    assert "Firefox on the laptop (this session)" in words
    assert "Safari on the phone" in words and "10.0.0.9" in words
    phone_session = Session.objects.get(user_agent="Safari on the phone")
    answer = browser.post("/account/sessions/end/", {"session_id": phone_session.pk})
    assert answer.status_code == 302
    assert "The session has ended." in text(browser.get("/account/"))
    assert phone.get("/account/").status_code == 302
    assert browser.get("/account/").status_code == 200


def test_end_all_other_sessions(browser, alice):
    phones = [Client() for _ in range(2)]
    for phone in phones:
        log_in(phone)
    answer = browser.post("/account/sessions/end-others/")
    assert answer.status_code == 302
    assert "2 other sessions ended." in text(browser.get("/account/"))
    assert all(phone.get("/account/").status_code == 302 for phone in phones)


def test_another_users_session_cannot_be_ended_by_its_id(browser, admin_ust):
    boss_session = Session.objects.get(user__username="boss")
    page = browser.post("/account/sessions/end/", {"session_id": boss_session.pk})
    assert page.status_code == 404
    assert "already ended, or it is not yours" in text(page)
    assert Session.objects.filter(pk=boss_session.pk).exists()
