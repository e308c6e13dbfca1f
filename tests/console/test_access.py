"""Only super-users get into the console; everyone else is sent to log in or refused."""

from __future__ import annotations

import pytest

from tests.console.conftest import log_in, make_user, web_client

pytestmark = pytest.mark.django_db

PAGES = ["/console/", "/console/queue/", "/console/users/", "/console/users/new/",
         "/console/apps/", "/console/apps/new/", "/console/remote/", "/console/audit/"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_people_are_sent_to_log_in(path):
    response = web_client(None).get(path + "?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=" + path.replace("/", "%2F") + "%3Fx%3D1"


def test_a_dead_session_is_sent_to_log_in(db):
    response = web_client("zust" + "x" * 40).get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_an_ended_session_is_sent_to_log_in(admin_ust, console):
    from admit.core.context import Caller
    from admit.sso.flows import logout

    logout(admin_ust, "CRM", Caller())
    assert console.get("/console/").status_code == 302


@pytest.mark.parametrize("path", PAGES)
def test_a_normal_user_gets_403(admin_ust, path):
    make_user(admin_ust, "alice")
    response = web_client(log_in("alice")).get(path)
    assert response.status_code == 403
    assert b"Super-users only" in response.content


def test_a_normal_user_cannot_post_either(admin_ust):
    alice = make_user(admin_ust, "alice")
    client = web_client(log_in("alice"))
    response = client.post(f"/console/users/{alice}/lock/", {"locked": "1"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_a_superuser_gets_in(console, path):
    response = console.get(path)
    assert response.status_code == 200
    assert b'aria-current="page"' in response.content or path == "/console/users/new/"


def test_forms_need_csrf(admin_ust):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    session = client.session
    session["admit_ust"] = admin_ust
    session.save()
    assert client.post("/console/queue/", {"action": "approve"}).status_code == 403
    page = client.get("/console/users/new/")
    assert b"csrfmiddlewaretoken" in page.content


@pytest.mark.parametrize("path", ["/", "/account/"])
def test_a_superusers_home_and_account_pages_link_the_console(admin_ust, console, path):
    html = console.get(path).content.decode()
    assert 'href="/console/"' in html and 'href="/console/queue/"' in html


@pytest.mark.parametrize("path", ["/", "/account/"])
def test_nobody_else_sees_the_console_link(admin_ust, path):
    make_user(admin_ust, "alice")
    for client in (web_client(None), web_client(log_in("alice"))):
        response = client.get(path, follow=True)
        assert response.status_code == 200
        assert "/console/" not in response.content.decode()
