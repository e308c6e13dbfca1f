"""The Django admin (/admin/) takes the console's log-in: a super-user logged in at /login/
opens it without a second log-in; nobody else gets in, and it shows no log-in form of its own."""

from __future__ import annotations

import pytest
from django.test import Client

from admit.sso.models import Session, User
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import log_in, make_user, web_client

pytestmark = pytest.mark.django_db


def test_a_superuser_logged_in_at_the_login_page_opens_the_admin(superuser):
    client = Client()
    form = {"username": superuser.username, "password": ADMIN_PASSWORD, "next": "/admin/"}
    logged_in = client.post("/login/", form)
    assert logged_in.status_code == 302 and logged_in["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"Site administration" in index.content
    assert superuser.username.encode() in index.content  # "Welcome, <username>"
    users = client.get("/admin/sso/user/")
    assert users.status_code == 200 and b"Select user to change" in users.content


def test_the_console_and_the_admin_share_one_session(console):
    assert console.get("/console/").status_code == 200
    assert console.get("/admin/").status_code == 200


def test_an_admin_change_is_logged_as_the_superuser(console, admin_ust, superuser):
    alice = User.objects.get(user_id=make_user(admin_ust, "alice"))
    page = console.get(f"/admin/sso/user/{alice.pk}/change/")
    assert page.status_code == 200
    from django.contrib.admin.models import LogEntry

    console.post(f"/admin/sso/user/{alice.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(pk=alice.pk).exists()
    assert LogEntry.objects.get().user_id == superuser.pk


def test_anonymous_people_are_sent_to_the_one_login_page(db):
    response = web_client(None).get("/admin/sso/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    login = web_client(None).get(response["Location"])
    assert login.status_code == 302
    assert login["Location"] == "/login/?next=%2Fadmin%2Fsso%2Fuser%2F"


def test_the_admin_login_form_is_gone(superuser):
    # Django's own form would take a password alone (no TOTP, no pause after failures).
    client = Client()
    posted = client.post(
        "/admin/login/", {"username": superuser.username, "password": ADMIN_PASSWORD}
    )
    assert posted.status_code == 302 and posted["Location"].startswith("/login/")
    assert client.get("/admin/").status_code == 302


def test_a_normal_user_cannot_open_the_admin(admin_ust):
    make_user(admin_ust, "alice")
    client = web_client(log_in("alice"))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert b"Super-users only" in response.content
    assert client.get("/admin/sso/user/").status_code == 302  # never the page itself


def test_an_ended_session_no_longer_opens_the_admin(console, admin_ust):
    Session.objects.all().delete()
    response = console.get("/admin/")
    assert response.status_code == 302


def test_logging_out_of_the_admin_ends_the_sso_session(console, admin_ust):
    assert Session.objects.count() == 1
    console.post("/admin/logout/")
    assert not Session.objects.exists()
    assert console.get("/console/").status_code == 302


def test_the_admins_password_change_is_the_account_pages(console):
    # Django's own form would skip admit's password rules and leave the other sessions alive.
    response = console.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/account/password/"


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_the_admin_login_never_sends_off_site(console, target):
    answer = console.get("/admin/login/", {"next": target})
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
