"""A Django site that logs people in with mozilla-django-oidc (tests/oidc/rp_site/, its own
process and SQLite file), pointed at a real ``admit serve``, walked in real Chromium:

- a newcomer opens the site, is sent to admit's log-in, follows "Sign up", signs up, confirms
  from the e-mail, waits for a super-user (who approves in the console), follows the welcome
  e-mail's link, logs in, consents, and lands back on the site signed in;
- an existing user logs in and out: the site's log-out ends the admit session too (admit's
  end-session endpoint, through ``OIDC_OP_LOGOUT_URL_METHOD``).

Screenshots of each step land in tests/e2e/artifacts/<test name>/ (git-ignored)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import Mailbox
from tests.e2e.test_console import BOSS_PASSWORD
from tests.live.conftest import LiveAdmit, free_port
from tests.oidc.live import RpSite, register_client, rp_site

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path, live_admit_smtp: LiveAdmit) -> Any:
    """The site, registered in admit as a client of CRM (asking for consent), and a
    super-user ``boss``."""
    made = live_admit_smtp.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = free_port()
    client = register_client(
        live_admit_smtp,
        f"http://127.0.0.1:{port}/oidc/callback/",
        f"http://127.0.0.1:{port}/logged-out/",
    )
    with rp_site(tmp_path, live_admit_smtp, client, port) as running:
        yield running


def _mail(mailbox: Mailbox, address: str, subject: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in mailbox.server.to(address):
            if subject in received.message["Subject"]:
                return received
        time.sleep(0.2)
    raise AssertionError(f"no e-mail '{subject}' to {address} within {timeout} s")


def _log_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _signed_in_as(page: Any, site: RpSite, username: str, email: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    try:
        page.wait_for_url(site.url + "/")
    except PlaywrightTimeout as error:
        raise AssertionError(f"not back on the site: at {page.url}\n{site.tail()}") from error
    expect(page.locator("#username")).to_have_text(username)
    expect(page.locator("#email")).to_have_text(email)
    expect(page.locator("#sub")).to_have_text(re.compile(r"^zusr"))


def test_a_newcomer_signs_up_from_the_site_and_comes_back_signed_in(
    browser, page, site, live_admit_smtp, mailbox, screenshot
):
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(f"script error: {error}"))

    # The site's page is protected: the browser lands on admit's log-in page.
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/\?app=CRM&next=%2Foidc%2Fauthorize"))
    expect(page.get_by_role("link", name="Return to CRM without logging in")).to_be_visible()
    screenshot(page, "01-admit-login")

    # "Sign up" keeps where the person was going.
    page.locator("main").get_by_role("link", name="Sign up").click()
    page.wait_for_url(re.compile(re.escape(admit) + r"/signup/\?app=CRM&next="))
    page.get_by_label("Username").fill("carol")
    page.get_by_label("E-mail address").fill("carol@example.com")
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    screenshot(page, "02-signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    screenshot(page, "03-check-your-email")

    # The confirmation e-mail's link, and its button.
    confirm = _mail(mailbox, "carol@example.com", "Confirm your sign-up")
    link = re.search(r"http://\S+/confirm/\S+/", confirm.text())
    assert link, confirm.text()
    page.goto(link[0])
    screenshot(page, "04-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("main")).to_contain_text("A super-user will review your sign-up")
    expect(page.locator("main")).to_contain_text("bring you back to CRM")
    screenshot(page, "05-confirmed-awaiting-approval")

    # A super-user approves in the console, in a browser of their own.
    boss_context = browser.new_context()
    boss = boss_context.new_page()
    boss.goto(admit + "/console/queue/")
    _log_in(boss, "boss", BOSS_PASSWORD)
    boss.wait_for_url(admit + "/console/queue/")
    boss.get_by_role("button", name="Approve carol").click()
    expect(boss.locator(".notice.success")).to_contain_text("Approved carol.")
    screenshot(boss, "06-console-approved")
    boss_context.close()

    # The welcome e-mail leads back to CRM (the authorize request the site made).
    welcome = _mail(mailbox, "carol@example.com", "Welcome")
    back = re.search(r"Continue to CRM: (http://\S+)", welcome.text())
    assert back, welcome.text()
    assert back[1].startswith(admit + "/oidc/authorize/?")
    page.goto(back[1])
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/"))
    screenshot(page, "07-login-after-approval")
    _log_in(page, "carol", GOOD_PASSWORD)

    # Consent, then the site shows who is signed in, from the OIDC claims.
    expect(page.get_by_role("heading", name="Allow CRM to use your account?")).to_be_visible()
    screenshot(page, "08-consent")
    page.get_by_role("button", name="Allow", exact=True).click()
    _signed_in_as(page, site, "carol", "carol@example.com")
    screenshot(page, "09-signed-in-on-the-site")
    assert not failures, failures


def test_an_existing_user_logs_in_and_out(page, site, live_admit_smtp, screenshot):
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/"))
    _log_in(page, "boss", BOSS_PASSWORD)
    page.get_by_role("button", name="Allow", exact=True).click()
    _signed_in_as(page, site, "boss", "boss@example.com")
    screenshot(page, "01-signed-in")

    # Consent is remembered: a second log-in at the site goes straight through.
    page.context.clear_cookies(name="rp_sessionid")
    page.goto(site.url + "/")
    _signed_in_as(page, site, "boss", "boss@example.com")

    # The site's log-out ends the admit session too, and comes back to the site.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(site.url + "/logged-out/")
    expect(page.locator("#state")).to_have_text("You are signed out.")
    screenshot(page, "02-logged-out")
    page.goto(admit + "/account/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/"))
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/\?app=CRM"))
    screenshot(page, "03-asked-to-log-in-again")


def test_returning_without_logging_in_tells_the_site_no(page, site, live_admit_smtp, screenshot):
    from playwright.sync_api import expect

    page.goto(site.url + "/")
    page.get_by_role("link", name="Return to CRM without logging in").click()
    # access_denied at the callback: mozilla-django-oidc sends the browser to its failure page.
    page.wait_for_url(site.url + "/failed/")
    expect(page.get_by_role("heading", name="Log-in failed")).to_be_visible()
    screenshot(page, "01-back-on-the-site")
