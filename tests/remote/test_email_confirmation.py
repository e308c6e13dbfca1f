"""A remote log-in's e-mail confirmation: a first-time user confirms their e-mail address.

The pre-filled e-mail form, the one e-mail it sends, the confirmation link (POST only, once,
until its max age, two links making one user, even clicked at the same moment), and the rate
limits per address and per server. The whole log-in, first time and next, is in
``test_login_first_and_next_time.py``."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from admit.audit.models import AuditEvent
from admit.mail.models import OutgoingEmail
from admit.remote.models import Preregistration, RemoteRealmUser
from tests.remote.conftest import (
    REALM_UUID,
    USER_UUID,
    confirmation_path,
    login_path,
)

pytestmark = pytest.mark.django_db


def confirmation_paths() -> list[str]:
    return [
        re.search(r"http://admit\.test(/remote-login/confirm/\S+/)", email.body_text).group(1)
        for email in OutgoingEmail.objects.filter(template="remote_confirm").order_by("id")
    ]


def test_email_form_is_pre_filled_from_the_token(client, server):
    page = client.get(login_path(client, server))
    assert page.status_code == 200
    assert b"Log in for the first time" in page.content
    assert b'name="email"' in page.content and b'value="admin@chat.example.com"' in page.content
    assert not OutgoingEmail.objects.exists() and not Preregistration.objects.exists()


def test_post_sends_one_email_and_asks_to_check_it(client, server):
    path = login_path(client, server)
    sent = client.post(path, {"email": "ada@chat.example.com"})
    assert sent.status_code == 200
    assert b"We sent a link to <strong>ada@chat.example.com</strong>" in sent.content
    assert b"Check your e-mail" in sent.content and b"ada@chat.example.com" in sent.content
    email = OutgoingEmail.objects.get()
    assert (email.template, email.to) == ("remote_confirm", "ada@chat.example.com")
    assert "Example Chat" in email.body_text
    assert email.body_text.startswith("Hello Ada Admin,")  # the name the server sent
    assert "<p>Hello Ada Admin,</p>" in email.body_html
    assert "/remote-login/confirm/zcnt" in email.body_text
    preregistration = Preregistration.objects.get()
    assert (preregistration.email, str(preregistration.user_uuid)) == (
        "ada@chat.example.com",
        USER_UUID,
    )
    assert preregistration.next_page == "account"
    assert not RemoteRealmUser.objects.exists()
    row = AuditEvent.objects.get(event="remote.email_confirmation")
    assert row.outcome == "ok" and str(row.remote_realm_uuid) == REALM_UUID


@pytest.mark.parametrize(
    "address", ["", "not-an-address", "a b@example.com", "admin@", "@example.com"]
)
def test_bad_address_shows_the_form_again_and_sends_nothing(client, server, address):
    path = login_path(client, server)
    response = client.post(path, {"email": address})
    assert response.status_code == 400
    assert b'role="alert"' in response.content and b'name="email"' in response.content
    assert b"We sent a link" not in response.content
    assert not OutgoingEmail.objects.exists() and not Preregistration.objects.exists()
    assert AuditEvent.objects.get(event="remote.email_confirmation").outcome == "error"


def test_confirmation_page_confirms_only_on_post(client, server):
    client.post(login_path(client, server), {"email": "ada@chat.example.com"})
    link = confirmation_path()
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200 and b"<form" in page.content
        assert b'method="post"' in page.content
    assert not RemoteRealmUser.objects.exists()
    assert Preregistration.objects.get().status == "pending"
    assert not AuditEvent.objects.filter(event="remote.email_confirmed").exists()
    landed = client.post(link)
    assert landed.status_code == 302
    assert landed["Location"].startswith("http://admit.test/remote-login/")
    user = RemoteRealmUser.objects.get()
    assert (str(user.realm.uuid), str(user.user_uuid), user.email) == (
        REALM_UUID,
        USER_UUID,
        "ada@chat.example.com",
    )
    preregistration = Preregistration.objects.get()
    assert preregistration.status == "used" and preregistration.created_realm_user == user


def test_confirmation_lands_on_confirm_login_then_the_next_page(client, server):
    client.post(login_path(client, server), {"email": "ada@chat.example.com"})
    landed = client.post(confirmation_path())
    confirm = landed["Location"].removeprefix("http://admit.test")
    page = client.get(confirm)
    assert b"Confirm login" in page.content and b'value="ada@chat.example.com"' in page.content
    assert b'value="Ada Admin"' in page.content and b'name="tos_consent"' in page.content
    done = client.post(confirm, {"full_name": "Ada", "tos_consent": "on"})
    assert done.status_code == 302 and done["Location"] == "/portal/account/"


def test_used_confirmation_link_says_so(client, server):
    client.post(login_path(client, server), {"email": "ada@chat.example.com"})
    link = confirmation_path()
    client.post(link)
    again = client.post(link)
    assert again.status_code == 410 and b"Already confirmed" in again.content
    assert RemoteRealmUser.objects.count() == 1


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["first-then-second", "second-then-first"])
def test_two_confirmation_links_make_one_user(client, server, order):
    path = login_path(client, server)
    client.post(path, {"email": "ada@chat.example.com"})
    client.post(path, {"email": "ada@chat.example.com"})
    links = confirmation_paths()
    assert len(links) == 2 and links[0] != links[1]
    for index in order:
        landed = Client().post(links[index])
        assert landed.status_code == 302
        assert landed["Location"].startswith("http://admit.test/remote-login/")
    assert RemoteRealmUser.objects.count() == 1
    assert set(Preregistration.objects.values_list("status", flat=True)) == {"used"}
    user = RemoteRealmUser.objects.get()
    assert set(Preregistration.objects.values_list("created_realm_user", flat=True)) == {user.pk}


def test_expired_confirmation_shows_the_expired_page_and_makes_no_user(
    client, server, clock, policy
):
    policy(remote={"confirmation_max_age": 3600})
    client.post(login_path(client, server), {"email": "ada@chat.example.com"})
    link = confirmation_path()
    clock.advance(seconds=3601)
    for method in (client.get, client.post):
        response = method(link)
        assert response.status_code == 410 and b"expired" in response.content
    assert not RemoteRealmUser.objects.exists()
    assert Preregistration.objects.get().status == "pending"


def test_confirmation_valid_until_its_max_age(client, server, clock):
    client.post(login_path(client, server), {"email": "ada@chat.example.com"})
    clock.advance(seconds=86400 - 5)
    assert client.post(confirmation_path()).status_code == 302
    assert RemoteRealmUser.objects.exists()


@pytest.mark.parametrize("key", ["zcnt" + "0" * 32, "nonsense"])
def test_unknown_or_malformed_confirmation_key(client, key):
    response = client.get(f"/remote-login/confirm/{key}/")
    assert response.status_code in (400, 404)
    assert b"Traceback" not in response.content


def test_rate_limit_per_address(client, server, policy, clock):
    policy(remote={"confirmation_emails_per_address": (2, 3600)})
    path = login_path(client, server)
    assert client.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    assert client.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    refused = client.post(path, {"email": "ada@chat.example.com"})
    assert refused.status_code == 429 and b"Too many requests" in refused.content
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert OutgoingEmail.objects.count() == 2
    # Another address (the same server) is counted apart.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    assert OutgoingEmail.objects.count() == 3


def test_rate_limit_per_server(client, server, policy, clock):
    policy(remote={"confirmation_emails_per_server": (2, 3600)})
    path = login_path(client, server)
    for number in range(2):
        browser = Client(REMOTE_ADDR=f"10.0.1.{number}")
        assert browser.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    refused = Client(REMOTE_ADDR="10.0.1.99").post(path, {"email": "ada@chat.example.com"})
    assert refused.status_code == 429 and b"Too many requests" in refused.content
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert OutgoingEmail.objects.count() == 2
    rows = AuditEvent.objects.filter(event="remote.email_confirmation").order_by("id")
    assert [row.outcome for row in rows] == ["ok", "ok", "error"]


def test_bad_addresses_count_against_the_limit(client, server, policy, clock):
    policy(remote={"confirmation_emails_per_address": (2, 3600)})
    path = login_path(client, server)
    assert client.post(path, {"email": "nope"}).status_code == 400
    assert client.post(path, {"email": "nope"}).status_code == 400
    assert client.post(path, {"email": "ada@chat.example.com"}).status_code == 429
    assert not OutgoingEmail.objects.exists()


def test_rate_limit_window_ends(client, server, policy, clock):
    policy(remote={"confirmation_emails_per_address": (1, 600)})
    path = login_path(client, server)
    assert client.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    refused = client.post(path, {"email": "ada@chat.example.com"})
    assert refused.status_code == 429
    clock.advance(seconds=int(refused["Retry-After"]) + 1)
    assert client.post(path, {"email": "ada@chat.example.com"}).status_code == 200


def test_changed_address_is_the_one_confirmed(client, server):
    client.post(login_path(client, server), {"email": "other@example.org"})
    assert OutgoingEmail.objects.get().to == "other@example.org"
    client.post(confirmation_path())
    assert RemoteRealmUser.objects.get().email == "other@example.org"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmation_links_clicked_at_the_same_moment_make_one_user(server):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    browser = Client()
    path = login_path(browser, server)
    browser.post(path, {"email": "ada@chat.example.com"})
    browser.post(path, {"email": "ada@chat.example.com"})
    links = confirmation_paths()
    barrier = threading.Barrier(len(links))
    statuses: list[int] = []

    def click(link: str) -> None:
        from django.db import connections

        try:
            barrier.wait()
            statuses.append(Client().post(link).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(link,)) for link in links]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [302, 302]
    assert RemoteRealmUser.objects.count() == 1
