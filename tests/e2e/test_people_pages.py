"""The pages for people in real Chromium, against a real ``admit serve``: sign up, read the
confirmation e-mail from the SMTP server, confirm, a super-user approves in the console (in a
browser of their own), log in, see "my sessions" and end the other one.

Screenshots of each page land in tests/e2e/artifacts/<test name>/ (not committed)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import GOOD_PASSWORD

pytestmark = pytest.mark.e2e

BOSS_PASSWORD = "Correct-Horse-Battery-42"


def approve_in_console(browser, live, username: str, screenshot) -> None:
    """A super-user, in a browser of their own, approves the sign-up in the console."""
    from playwright.sync_api import expect

    made = live.run(
        "createsuperuser",
        "--username",
        "boss",
        "--email",
        "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )
    assert made.returncode == 0, made.stderr
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(20_000)
    console = context.new_page()
    try:
        console.goto(live.url + "/console/queue/")
        console.wait_for_url(re.compile(re.escape(live.url) + r"/login/\?next="))
        console.get_by_label("Username").fill("boss")
        console.get_by_label("Password").fill(BOSS_PASSWORD)
        console.get_by_role("button", name="Log in").click()
        console.wait_for_url(live.url + "/console/queue/")
        console.get_by_role("button", name=f"Approve {username}").click()
        expect(console.locator(".notice.success")).to_contain_text(f"Approved {username}.")
        screenshot(console, "06b-console-approved")
    finally:
        context.close()


def log_in(page, admit: str, username: str) -> None:
    page.goto(admit + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(admit + "/account/")


def test_sign_up_confirm_log_in_and_end_a_session(
    browser, page, live_admit_smtp, mailbox, screenshot
):
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    email = "ada@example.com"

    # Sign up: a mistake first, shown next to its field, with what was typed kept.
    page.goto(admit + "/signup/")
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    screenshot(page, "01-signup")
    page.get_by_label("Username").fill("ada lovelace")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#id_username_error")).to_contain_text("cannot contain spaces")
    expect(page.locator("#id_password_error")).to_contain_text("too short")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "02-signup-errors")

    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_label("Display name (optional)").fill("Ada")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)
    screenshot(page, "03-check-email")

    # The confirmation e-mail, as the SMTP server received it.
    mail = mailbox.wait_for(email)
    links = re.findall(r"https?://\S+/confirm/[^/\s]+/", mail.text())
    assert len(links) == 1, mail.text()
    assert links[0].startswith(admit + "/confirm/")
    page.goto(links[0])
    expect(page.get_by_role("heading", name="Confirm")).to_be_visible()
    screenshot(page, "04-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("main")).to_contain_text("A super-user will review your sign-up")
    screenshot(page, "05-confirmed")

    # Before approval, the log-in page says so in plain words.
    page.goto(admit + "/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("waiting for approval")
    expect(page.get_by_label("Username")).to_have_value("ada")
    screenshot(page, "06-login-not-approved")

    approve_in_console(browser, live_admit_smtp, "ada", screenshot)

    # Log in twice, from two browsers (two contexts: two cookie jars).
    log_in(page, admit, "ada")
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    other_context = browser.new_context(
        viewport={"width": 390, "height": 800}, user_agent="Phone browser (test)"
    )
    other_context.set_default_timeout(20_000)
    phone = other_context.new_page()
    try:
        log_in(phone, admit, "ada")
        screenshot(phone, "07-account-on-a-phone")

        # "My sessions" on the first browser lists both; it ends the phone's.
        page.reload()
        sessions = page.locator("#sessions tbody tr")
        expect(sessions).to_have_count(2)
        expect(page.locator("#sessions")).to_contain_text("(this session)")
        expect(page.locator("#sessions")).to_contain_text("Phone browser (test)")
        screenshot(page, "08-my-sessions")
        sessions.filter(has_text="Phone browser (test)").get_by_role(
            "button", name=re.compile("^End this session")
        ).click()
        expect(page.get_by_role("status")).to_contain_text("The session has ended.")
        expect(page.locator("#sessions tbody tr")).to_have_count(1)
        screenshot(page, "09-session-ended")

        # The phone is logged out: its next page asks it to log in again.
        phone.goto(admit + "/account/")
        phone.wait_for_url(re.compile(re.escape(admit) + r"/login/\?next="))
        expect(phone.get_by_role("heading", name="Log in")).to_be_visible()
        screenshot(phone, "10-phone-logged-out")
    finally:
        other_context.close()

    # Two-step verification: the key as a QR code drawn on the server, and as text.
    page.get_by_role("link", name="Set up two-step verification").click()
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.get_by_label("Code from the new key")).to_have_attribute(
        "autocomplete", "one-time-code"
    )
    screenshot(page, "11-totp-setup")

    # Log out (a POST from the header's button).
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(admit + "/login/")
    page.goto(admit + "/account/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/"))
