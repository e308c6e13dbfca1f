"""The e-mail rules of Zato compatibility: a user's own new address waits for a link sent to
it ([user] confirm_email_change), and sign-up without an address ([signup] email_required)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD, make_user, refused, signup_body

pytestmark = pytest.mark.django_db

USER = "/zato/sso/user"
LOGIN = "/zato/sso/user/login"
SIGNUP = "/zato/sso/user/signup"


def log_in(api, username: str) -> str:
    answer = api.post(
        LOGIN, {"username": username, "password": GOOD_PASSWORD, "current_app": "CRM"}
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["ust"]


def confirm_link_sent_to(address: str) -> str:
    mail = OutgoingEmail.objects.filter(to=address).latest("id")
    return re.search(r"http://admit\.test(/confirm/\S+/)", mail.body_text).group(1)


def test_own_email_change_waits_for_the_new_address_to_confirm(api, admin_ust):
    make_user(api, admin_ust, "alice")
    ust = log_in(api, "alice")
    answer = api.call("PATCH", USER, {"ust": ust, "email": "new@example.com"})
    assert answer.status_code == 200, answer.content
    alice = User.objects.get(username="alice")
    assert alice.email == "alice@example.com" and alice.pending_email == "new@example.com"
    page = Client().post(confirm_link_sent_to("new@example.com"))
    assert page.status_code == 200
    alice.refresh_from_db()
    assert alice.email == "new@example.com" and alice.email_key == "new@example.com"
    assert alice.pending_email == ""


def test_a_second_change_revokes_the_first_link(api, admin_ust):
    make_user(api, admin_ust, "alice")
    ust = log_in(api, "alice")
    api.call("PATCH", USER, {"ust": ust, "email": "first@example.com"})
    first = confirm_link_sent_to("first@example.com")
    api.call("PATCH", USER, {"ust": ust, "email": "second@example.com"})
    Client().post(first)
    assert User.objects.get(username="alice").email == "alice@example.com"


def test_a_taken_address_is_told_only_to_whoever_holds_it(api, admin_ust):
    make_user(api, admin_ust, "alice")
    make_user(api, admin_ust, "bob")
    ust = log_in(api, "alice")
    # The answer is the same as for a free address: a session alone learns nothing.
    assert api.call("PATCH", USER, {"ust": ust, "email": "bob@example.com"}).status_code == 200
    page = Client().post(confirm_link_sent_to("bob@example.com"))
    assert "already belongs to another account" in page.content.decode()
    assert User.objects.get(username="alice").email == "alice@example.com"


def test_without_confirm_email_change_the_address_changes_at_once(api, admin_ust, policy):
    policy(user={"confirm_email_change": False})
    make_user(api, admin_ust, "alice")
    ust = log_in(api, "alice")
    assert api.call("PATCH", USER, {"ust": ust, "email": "new@example.com"}).status_code == 200
    assert User.objects.get(username="alice").email == "new@example.com"
    assert not OutgoingEmail.objects.filter(to="new@example.com").exists()


def test_a_superuser_changes_another_users_address_at_once(api, admin_ust):
    alice = make_user(api, admin_ust, "alice")
    answer = api.call("PATCH", USER, {"ust": admin_ust, "user_id": alice, "email": "n@example.com"})
    assert answer.status_code == 200, answer.content
    assert User.objects.get(user_id=alice).email == "n@example.com"


def test_signup_without_email_is_E002005_by_default(api):
    body = signup_body()
    del body["email"]
    refused(api.post(SIGNUP, body), "E002005")
    assert not User.with_held_signups.exists()


def test_signup_without_email_when_not_required_returns_the_token_and_sends_nothing(api, policy):
    policy(signup={"email_required": False})
    body = signup_body()
    del body["email"]
    answer = api.post(SIGNUP, body)
    assert answer.status_code == 200, answer.content
    token = answer.json()["confirm_token"]
    assert not OutgoingEmail.objects.exists()
    assert api.call("PATCH", SIGNUP, {"confirm_token": token}).status_code == 200
    user = User.objects.get(username="user1")
    assert user.email == "" and user.is_confirmed
    # A second user without an address is no clash of addresses.
    second = signup_body(username="user2")
    del second["email"]
    assert api.post(SIGNUP, second).status_code == 200


def test_an_address_given_is_still_checked_when_not_required(api, policy):
    policy(signup={"email_required": False})
    refused(api.post(SIGNUP, signup_body(email="not an address")), "E002004")
