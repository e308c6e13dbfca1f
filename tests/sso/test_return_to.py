"""From an app's log-in to a new account and back: the "Sign up" link on the log-in page keeps
where the person was going (``next``), the sign-up remembers it, and the confirmation page or,
when a super-user must approve first, the welcome e-mail leads back there. A log-in page
reached from /oidc/authorize/ also offers to return to the app without logging in.

An off-site ``next`` is never kept nor linked."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as Browser

from admit.core.context import Caller
from admit.mail.models import OutgoingEmail
from admit.sso import flows
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD
from tests.oidc.support import authorize_query, callback_params, make_client
from tests.sso.test_pages import text

pytestmark = pytest.mark.django_db

OFF_SITE = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "//evil.example/oidc/authorize/?x=1",
    "https:/evil.example",
    "/oidc/authorize/?" + "x" * 2000,  # too long to keep: cut short it would go elsewhere
    "/path with spaces",
    "/a\nb",
]
SIGNUP_LINK = re.compile(r'<a href="(/signup/[^"]*)">Sign up</a>')
CANCEL_LINK = re.compile(r'<a href="([^"]*)">Return to (\w+) without logging in</a>')


def links(response) -> dict[str, str]:
    """Each link's words and where it goes."""
    found = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', response.content.decode())
    return {unescape(words).strip(): unescape(href) for href, words in found}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def app_client():
    return make_client("CRM")


def authorize_path(client_id: str) -> str:
    return "/oidc/authorize/?" + urlencode(authorize_query(client_id))


def login_page_for(browser: Browser, client_id: str):
    """What a logged-out browser sees when an app sends it to authorize: admit's log-in page."""
    sent = browser.get(authorize_path(client_id))
    assert sent.status_code == 302 and sent["Location"].startswith("/login/?")
    return browser.get(sent["Location"])


def sign_up_from(browser: Browser, login_page, username: str = "alice"):
    """Follow the log-in page's "Sign up" link and fill in the form."""
    signup_path = links(login_page)["Sign up"]
    form = browser.get(signup_path)
    assert form.status_code == 200
    hidden = re.search(r'name="next" value="([^"]*)"', form.content.decode())
    fields = {"username": username, "email": f"{username}@example.com", "password": GOOD_PASSWORD}
    if hidden:
        fields["next"] = unescape(hidden[1])
    return browser.post(signup_path, fields)


def confirm_from_email(browser: Browser, email: str):
    mail = OutgoingEmail.objects.get(template="signup_confirm", to=email)
    link = re.search(r"http://admit\.test(/confirm/\S+/)", mail.body_text)
    assert link, mail.body_text
    return browser.post(link[1])


def test_the_signup_link_keeps_the_app_and_where_the_person_was_going(app_client):
    browser = Browser()
    page = login_page_for(browser, app_client.client.client_id)
    signup_path = links(page)["Sign up"]
    wanted = query_of(page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"])["next"]
    assert query_of(signup_path) == {"app": "CRM", "next": wanted}

    form = browser.get(signup_path)
    assert "for CRM" in text(form)
    assert f'name="next" value="{wanted}"' in unescape(form.content.decode())
    assert links(form)["Log in"] == "/login/?" + urlencode({"app": "CRM", "next": wanted})


def test_the_signup_remembers_where_the_person_was_going(app_client):
    browser = Browser()
    page = login_page_for(browser, app_client.client.client_id)
    done = sign_up_from(browser, page)
    assert "Check your e-mail" in text(done)
    alice = User.objects.get(username="alice")
    assert alice.return_to.startswith("/oidc/authorize/?client_id=")
    assert alice.signup_app == "CRM"


def test_without_approval_the_confirmation_page_leads_back_to_the_app(app_client, policy):
    policy(signup={"approval_required": False})
    browser = Browser()
    done = sign_up_from(browser, login_page_for(browser, app_client.client.client_id))
    assert done.status_code == 200
    return_to = User.objects.get(username="alice").return_to

    confirmed = confirm_from_email(Browser(), "alice@example.com")

    assert "your account is ready" in text(confirmed)
    assert links(confirmed)["Continue to CRM"] == return_to
    # Following it, a fresh browser logs in and is sent on to the app with a code.
    later = Browser()
    to_login = later.get(return_to)
    assert to_login.status_code == 302 and to_login["Location"].startswith("/login/?")
    logged_in = later.post(to_login["Location"], {"username": "alice", "password": GOOD_PASSWORD})
    assert logged_in["Location"] == return_to
    consent = later.get(return_to)
    assert consent.status_code == 200 and "CRM" in text(consent)
    answer = later.post(return_to, {"decision": "allow"})
    assert callback_params(answer)["code"]


def test_with_approval_the_page_says_so_and_the_welcome_email_leads_back(
    app_client, superuser, admin_ust
):
    browser = Browser()
    sign_up_from(browser, login_page_for(browser, app_client.client.client_id))
    alice = User.objects.get(username="alice")

    confirmed = confirm_from_email(Browser(), "alice@example.com")
    assert "A super-user will review your sign-up" in text(confirmed)
    assert "Continue to CRM" not in links(confirmed)
    assert not OutgoingEmail.objects.filter(template="welcome").exists()

    flows.approve(alice.user_id, admin_ust, Caller())

    welcome = OutgoingEmail.objects.get(template="welcome", to="alice@example.com")
    assert f"Continue to CRM: http://admit.test{alice.return_to}" in welcome.body_text
    assert f'href="http://admit.test{alice.return_to}"'.replace("&", "&amp;") in welcome.body_html


def test_a_signup_from_no_app_is_welcomed_with_the_log_in_page(superuser, admin_ust):
    browser = Browser()
    browser.post(
        "/signup/", {"username": "alice", "email": "alice@example.com", "password": GOOD_PASSWORD}
    )
    confirmed = confirm_from_email(Browser(), "alice@example.com")
    assert "Continue to" not in text(confirmed)
    flows.approve(User.objects.get(username="alice").user_id, admin_ust, Caller())
    welcome = OutgoingEmail.objects.get(template="welcome")
    assert "Log in: http://admit.test/login/" in welcome.body_text


def test_the_log_in_page_from_an_app_offers_to_return_without_logging_in(app_client):
    browser = Browser()
    page = login_page_for(browser, app_client.client.client_id)
    wanted = query_of(page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"])["next"]
    cancel = links(page)["Return to CRM without logging in"]
    assert cancel == wanted + "&cancel=1"

    back = browser.get(cancel)

    assert callback_params(back)["error"] == "access_denied"


def test_a_plain_log_in_page_offers_no_return(db):
    page = Browser().get("/login/?next=/account/")
    assert not CANCEL_LINK.search(page.content.decode())
    assert links(page)["Sign up"] == "/signup/?next=%2Faccount%2F"


@pytest.mark.parametrize("state", ["unconfirmed", "unapproved", "locked"])
def test_a_refused_log_in_still_offers_the_way_back(app_client, state):
    browser = Browser()
    sign_up_from(browser, login_page_for(browser, app_client.client.client_id))
    alice = User.objects.get(username="alice")
    if state != "unconfirmed":
        alice.confirmed_at = alice.sign_up_time
    if state == "locked":
        alice.approval_status, alice.is_locked = User.Approval.APPROVED, True
    alice.save()
    page = login_page_for(browser, app_client.client.client_id)

    refused = browser.post(
        page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"],
        {"username": "alice", "password": GOOD_PASSWORD},
    )

    assert refused.status_code != 302
    assert re.search(r'class="error" role="alert"', refused.content.decode())
    cancel = links(refused)["Return to CRM without logging in"]
    assert callback_params(browser.get(cancel))["error"] == "access_denied"


@pytest.mark.parametrize("off_site", OFF_SITE)
def test_an_off_site_next_is_never_linked_nor_kept(off_site, superuser, admin_ust):
    login = Browser().get("/login/", {"app": "CRM", "next": off_site})
    assert "evil" not in "".join(links(login).values())
    assert "x" * 2000 not in login.content.decode()
    assert not CANCEL_LINK.search(login.content.decode())
    assert links(login)["Sign up"] == "/signup/?app=CRM"

    signup_path = "/signup/?" + urlencode({"app": "CRM", "next": off_site})
    form = Browser().get(signup_path)
    assert 'name="next"' not in form.content.decode()
    assert links(form)["Log in"] == "/login/"
    done = Browser().post(
        signup_path,
        {
            "username": "alice",
            "email": "alice@example.com",
            "password": GOOD_PASSWORD,
            "next": off_site,
        },
    )
    assert done.status_code == 200
    alice = User.objects.get(username="alice")
    assert alice.return_to == ""

    confirmed = confirm_from_email(Browser(), "alice@example.com")
    assert "evil" not in "".join(links(confirmed).values())
    flows.approve(alice.user_id, admin_ust, Caller())
    welcome = OutgoingEmail.objects.get(template="welcome")
    assert "evil" not in welcome.body_text + welcome.body_html
    assert "Log in: http://admit.test/login/" in welcome.body_text

    logged_in = Browser().post(
        "/login/?" + urlencode({"next": off_site}),
        {"username": "alice", "password": GOOD_PASSWORD},
    )
    assert logged_in["Location"] == "/account/"


def test_signed_up_at_once_continues_to_the_app(app_client, policy):
    policy(signup={"confirmation_required": False, "approval_required": False})
    browser = Browser()
    done = sign_up_from(browser, login_page_for(browser, app_client.client.client_id))
    assert "You are signed up" in text(done)
    assert links(done)["Continue to CRM"] == User.objects.get(username="alice").return_to
