"""POST /zato/sso/user/signup/confirm and the e-mailed confirmation link."""

from __future__ import annotations

import re

import pytest

from admit.audit.models import AuditEvent
from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.conftest import codes, signup_body

pytestmark = pytest.mark.django_db

CONFIRM = "/zato/sso/user/signup/confirm"


@pytest.fixture
def token(api) -> str:
    return api.post("/zato/sso/user/signup", signup_body()).json()["confirm_token"]


def test_seed_example_confirms_the_user(api, token):
    response = api.post(CONFIRM, {"confirm_token": token})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    user = User.objects.get()
    assert user.is_confirmed and not user.is_approved
    row = AuditEvent.objects.get(event="signup.confirm")
    assert row.outcome == "ok" and row.target_user_id == user.user_id and row.app == "CRM"


def test_a_spent_token_is_already_confirmed(api, token):
    api.post(CONFIRM, {"confirm_token": token})
    replay = api.post(CONFIRM, {"confirm_token": token})
    assert replay.status_code == 403 and codes(replay) == ["E005007"]


@pytest.mark.parametrize(
    "forged",
    [
        "zcnt" + "0" * 32,
        "zcnt8538ba1f6bef475a8fee1fc8cee65dac",
        "not-a-token",
        "",
        "zcnt" + "A" * 32,
    ],
)
def test_unknown_or_malformed_tokens(api, token, forged):
    response = api.post(CONFIRM, {"confirm_token": forged})
    assert response.status_code == 403 and codes(response) == ["E005006"]
    assert not User.objects.get().is_confirmed


def test_an_expired_token_is_no_such_token(api, token, clock):
    clock.advance(days=2, seconds=1)
    response = api.post(CONFIRM, {"confirm_token": token})
    assert codes(response) == ["E005006"]
    assert not User.objects.get().is_confirmed


def test_a_token_still_works_just_before_it_expires(api, token, clock):
    clock.advance(days=2, seconds=-1)
    assert api.post(CONFIRM, {"confirm_token": token}).status_code == 200


def test_confirming_without_approval_required_welcomes_the_user(api, policy, token):
    policy(signup={"approval_required": False})
    api.post(CONFIRM, {"confirm_token": token})
    user = User.objects.get()
    assert user.is_confirmed and user.is_approved
    assert OutgoingEmail.objects.filter(template="welcome", to=user.email).count() == 1


def test_welcome_is_not_sent_when_switched_off(api, policy, token):
    policy(signup={"approval_required": False, "send_welcome_email": False})
    api.post(CONFIRM, {"confirm_token": token})
    assert not OutgoingEmail.objects.filter(template="welcome").exists()


def _link_in_email() -> str:
    body = OutgoingEmail.objects.get(template="signup_confirm").body_text
    return re.search(r"http://admit\.test(/confirm/\S+/)", body).group(1)


def test_the_emailed_link_shows_a_button_and_confirms_only_on_post(api, client, token):
    path = _link_in_email()
    page = client.get(path)
    assert page.status_code == 200
    assert b'<form method="post">' in page.content and b"Confirm</button>" in page.content
    client.get(path)  # a mail scanner fetching the link twice changes nothing
    assert not User.objects.get().is_confirmed
    done = client.post(path)
    assert done.status_code == 200
    assert b"A super-user will review your sign-up" in done.content
    assert User.objects.get().is_confirmed


def test_the_link_page_needs_a_csrf_token(token):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/confirm/{token}/").status_code == 403
    assert not User.objects.get().is_confirmed


def test_the_link_and_the_api_share_one_key(api, client, token):
    client.post(f"/confirm/{token}/")
    assert codes(api.post(CONFIRM, {"confirm_token": token})) == ["E005007"]


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/confirm/garbage/", 400, b"This link is broken"),
        ("/confirm/zcnt" + "1" * 32 + "/", 404, b"Unknown link"),
    ],
)
def test_link_failures_have_their_own_pages(client, db, path, status, text):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == status
        assert text in response.content


def test_used_link_has_its_own_page(client, token):
    client.post(f"/confirm/{token}/")
    used = client.get(f"/confirm/{token}/")
    assert used.status_code == 410 and b"Already confirmed" in used.content


def test_expired_link_has_its_own_page(client, token, clock):
    clock.advance(days=3)
    expired = client.post(f"/confirm/{token}/")
    assert expired.status_code == 410 and b"This link has expired" in expired.content
    assert not User.objects.get().is_confirmed


def test_rejected_users_link_is_unknown(api, client, token, admin_ust):
    user_id = User.objects.get(username="user1").user_id
    api.post("/zato/sso/user/signup/reject", {"user_id": user_id, "ust": admin_ust})
    assert client.post(f"/confirm/{token}/").status_code == 404


def test_the_link_says_whose_sign_up_which_address_and_app(client, token):
    page = client.get(f"/confirm/{token}/").content.decode()
    assert "the sign-up of user1 for CRM, with the e-mail address u•••1@example.com" in page
    assert "user1@example.com" not in page  # masked: the page is for whoever holds the link
    assert not User.objects.get().is_confirmed  # showing it confirms nothing


def test_masked_addresses():
    from admit.core.emails import masked

    assert masked("ada.lovelace@example.com") == "a•••e@example.com"
    assert masked("al@example.com") == "a•••@example.com"
    assert masked("not-an-address") == "•••"
