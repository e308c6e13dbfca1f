"""``email_verified`` says the person has proven the address they have now, by following a
link e-mailed to it and to nobody else (``User.email_verified``); and each scope's claims come
with that scope only. Relying parties match accounts by address: an address that a
super-user typed, or that nobody confirmed, must not come with ``email_verified: true``."""

from __future__ import annotations

import re

import pytest
from django.test import Client as Browser

from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD, signup_body
from tests.oidc.support import (
    Pkce,
    id_token_claims,
    log_in,
    make_client,
    make_person,
    tokens_for,
    userinfo,
)

pytestmark = pytest.mark.django_db

USER = "/zato/sso/user"
SIGNUP = "/zato/sso/user/signup"
RESET = "/zato/sso/password/reset"
NEW_PASSWORD = "Seven swallows over the plum tree"


@pytest.fixture(autouse=True)
def no_approval(policy):
    """A confirmed sign-up can log in at once: these tests are about its address."""
    policy(signup={"approval_required": False})


def seen_by_the_app(username: str, password: str = GOOD_PASSWORD, **extra: str):
    """A new log-in to a new app: the claims of its ID token and of userinfo, and the browser
    with the access token (to ask userinfo again later)."""
    browser = Browser()
    log_in(browser, username, password)
    tokens = tokens_for(browser, make_client(), Pkce(), **extra)
    answer = userinfo(browser, tokens["access_token"])
    assert answer.status_code == 200, answer.content
    return id_token_claims(browser, tokens["id_token"]), answer.json(), browser, tokens


def link_sent_to(address: str, template: str) -> str:
    mail = OutgoingEmail.objects.filter(to=address, template=template).latest("id")
    return re.search(r"http://admit\.test(/confirm/\S+/)", mail.body_text).group(1)


def follow(path: str) -> None:
    """Press the button of the confirmation page that an e-mailed link opens."""
    page = Browser().post(path)
    assert page.status_code == 200, page.content


def sign_up_on_the_page(name: str = "user1") -> None:
    page = Browser().post(
        "/signup/?app=CRM",
        {"username": name, "email": f"{name}@example.com", "password": GOOD_PASSWORD},
    )
    assert page.status_code == 200, page.content


def api_log_in(api, username: str, password: str = GOOD_PASSWORD) -> str:
    body = {"username": username, "password": password, "current_app": "CRM"}
    answer = api.post("/zato/sso/user/login", body)
    assert answer.status_code == 200, answer.content
    return answer.json()["ust"]


def patch_user(api, ust: str, **changes) -> None:
    answer = api.call("PATCH", USER, {"ust": ust, **changes})
    assert answer.status_code == 200, answer.content


def verified(username: str) -> tuple[bool, bool]:
    """``email_verified`` in the ID token of a new log-in and in its userinfo answer."""
    claims, info, _browser, _tokens = seen_by_the_app(username)
    assert claims["email"] == info["email"] == User.objects.get(username=username).email
    return claims["email_verified"], info["email_verified"]


@pytest.fixture
def proven(db) -> User:
    """A person who signed up on the page and followed the link e-mailed to them."""
    sign_up_on_the_page("user1")
    follow(link_sent_to("user1@example.com", "signup_confirm"))
    return User.objects.get(username="user1")


# Proven: a link e-mailed to the address, and to nobody else, was followed


def test_a_sign_up_confirmed_by_its_emailed_link_has_a_verified_address(proven):
    assert verified("user1") == (True, True)


def test_through_the_api_without_the_token_in_the_answer_too(api, policy):
    policy(signup={"return_confirm_token": False})
    answer = api.post(SIGNUP, signup_body())
    assert answer.status_code == 200 and "confirm_token" not in answer.json()
    follow(link_sent_to("user1@example.com", "signup_confirm"))

    assert verified("user1") == (True, True)


def test_an_own_change_confirmed_by_its_link_is_verified_for_the_new_address(api, proven):
    ust = api_log_in(api, "user1")
    patch_user(api, ust, email="new@example.com")
    # Until the new address confirms, the old one stays, proven.
    assert verified("user1") == (True, True)

    follow(link_sent_to("new@example.com", "email_change"))

    claims, info, _browser, _tokens = seen_by_the_app("user1")
    assert claims["email"] == info["email"] == "new@example.com"
    assert claims["email_verified"] is info["email_verified"] is True


def test_a_finished_password_reset_proves_the_address_a_superuser_gave(api, admin_ust, proven):
    patch_user(api, admin_ust, user_id=proven.user_id, email="typed@example.com")
    assert verified("user1") == (False, False)

    assert api.post(RESET, {"credential": "user1", "current_app": "CRM"}).status_code == 200
    mail = OutgoingEmail.objects.get(template="password_reset", to="typed@example.com")
    (token,) = set(re.findall(r"zcnt[0-9a-f]{32}", mail.body_text))
    opened = api.call("PATCH", RESET, {"token": token})
    assert opened.status_code == 200, opened.content
    body = {"token": token, "reset_key": opened.json()["reset_key"], "password": NEW_PASSWORD}
    assert api.call("DELETE", RESET, body).status_code == 200

    claims, info, _browser, _tokens = seen_by_the_app("user1", NEW_PASSWORD)
    assert claims["email_verified"] is info["email_verified"] is True


def test_asking_for_the_own_address_again_proves_it(api, admin_ust, proven):
    patch_user(api, admin_ust, user_id=proven.user_id, email="typed@example.com")
    ust = api_log_in(api, "user1")

    patch_user(api, ust, email="typed@example.com")
    follow(link_sent_to("typed@example.com", "email_change"))

    assert verified("user1") == (True, True)


# Not proven: anything else that sets or changes the address


def test_a_superusers_change_of_address_is_not_verified(api, admin_ust, proven):
    _claims, info, browser, tokens = seen_by_the_app("user1")
    assert info["email_verified"] is True

    patch_user(api, admin_ust, user_id=proven.user_id, email="someone.else@example.com")

    # The app asking again with the token it has, and the ID token of a new log-in.
    again = userinfo(browser, tokens["access_token"]).json()
    assert again["email"] == "someone.else@example.com"
    assert again["email_verified"] is False
    assert verified("user1") == (False, False)


def test_an_own_change_without_confirmation_is_not_verified(api, policy, proven):
    policy(user={"confirm_email_change": False})
    ust = api_log_in(api, "user1")

    patch_user(api, ust, email="new@example.com")

    assert User.objects.get(username="user1").email == "new@example.com"
    assert verified("user1") == (False, False)


def test_a_change_back_to_the_proven_address_is_verified_again(api, admin_ust, proven):
    patch_user(api, admin_ust, user_id=proven.user_id, email="other@example.com")
    patch_user(api, admin_ust, user_id=proven.user_id, email="User1@Example.com")

    assert verified("user1") == (True, True)


def test_a_person_made_by_a_superuser_has_no_verified_address(admin_ust):
    make_person(admin_ust, "alice")

    assert verified("alice") == (False, False)


def test_a_sign_up_a_superuser_marks_confirmed_is_not_verified(api, admin_ust):
    sign_up_on_the_page("user1")
    user_id = User.objects.get(username="user1").user_id

    patch_user(api, admin_ust, user_id=user_id, sign_up_status="final", approval_status="approved")

    assert verified("user1") == (False, False)


def test_a_sign_up_confirmed_with_the_token_from_its_answer_is_not_verified(api):
    """Whoever made the sign-up has that token without the mailbox (the default
    ``[signup] return_confirm_token = true``)."""
    token = api.post(SIGNUP, signup_body(email="victim@example.com")).json()["confirm_token"]
    assert api.post(f"{SIGNUP}/confirm", {"confirm_token": token}).status_code == 200

    assert verified("user1") == (False, False)


def test_a_sign_up_without_confirmation_is_not_verified(policy):
    policy(signup={"confirmation_required": False})
    sign_up_on_the_page("user1")

    assert verified("user1") == (False, False)


def test_a_link_to_the_address_a_superuser_replaced_proves_nothing(api, admin_ust):
    sign_up_on_the_page("user1")
    user_id = User.objects.get(username="user1").user_id
    patch_user(api, admin_ust, user_id=user_id, email="typed@example.com")

    follow(link_sent_to("user1@example.com", "signup_confirm"))

    assert User.objects.get(username="user1").is_confirmed
    assert verified("user1") == (False, False)


def test_a_sign_up_without_an_address_has_none_verified(api, policy):
    policy(signup={"email_required": False})
    body = signup_body()
    del body["email"]
    token = api.post(SIGNUP, body).json()["confirm_token"]
    assert api.post(f"{SIGNUP}/confirm", {"confirm_token": token}).status_code == 200

    claims, info, _browser, _tokens = seen_by_the_app("user1")
    assert "email" not in claims and "email" not in info
    assert claims["email_verified"] is info["email_verified"] is False


# Each scope's claims, and only with it


@pytest.fixture
def carol(admin_ust) -> User:
    return make_person(admin_ust, "carol", first_name="Carol", last_name="Jones")


def test_the_profile_scope_names_the_person(carol):
    claims, info, _browser, _tokens = seen_by_the_app("carol", scope="openid profile")

    for seen in (claims, info):
        assert seen["sub"] == carol.user_id
        assert seen["name"] == "Carol Jones"
        assert seen["given_name"] == "Carol" and seen["family_name"] == "Jones"
        assert seen["preferred_username"] == "carol"
        assert "email" not in seen and "email_verified" not in seen


def test_openid_alone_gives_the_subject_and_nothing_of_the_person(carol):
    claims, info, _browser, _tokens = seen_by_the_app("carol", scope="openid")

    assert info == {"sub": carol.user_id}
    assert claims["sub"] == carol.user_id
    person = {"name", "given_name", "family_name", "preferred_username", "email", "email_verified"}
    assert not person & set(claims)


def test_the_email_scope_alone_gives_the_address_and_not_the_names(carol):
    claims, info, _browser, _tokens = seen_by_the_app("carol", scope="openid email")

    for seen in (claims, info):
        assert seen["email"] == "carol@example.com" and seen["email_verified"] is False
        assert not {"name", "given_name", "family_name", "preferred_username"} & set(seen)
