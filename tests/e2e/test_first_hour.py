"""The first hour of an operator and of a person signing up (issue #19), in real Chromium, on a
desktop (1280 × 800) and on a phone-sized screen (390 × 844): each test runs at both sizes.

Every page state reached goes through ``Audit.check``: axe-core finds no serious or critical
violation, the page is no wider than the viewport, and a screenshot lands in
tests/e2e/artifacts/<test name>/ (git-ignored)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import BOTH_SIZES, Audit, sign_up_ann_confirmed_bob_not
from tests.e2e.test_people_pages import BOSS_PASSWORD

pytestmark = [pytest.mark.e2e, BOTH_SIZES]


def _press(page: Any, button: str) -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state("load")


def _log_in(page: Any, admit: str, username: str, password: str = GOOD_PASSWORD) -> None:
    page.goto(admit + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    _press(page, "Log in")


def _on_screen(page: Any, locator: Any) -> bool:
    """The element lies inside the viewport horizontally (no sideways scrolling to reach it)."""
    box = locator.bounding_box()
    return (
        box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    )


def _outbox_mail(page: Any, admit: str, text: str, timeout: float = 30) -> Any:
    """The e-mail in /dev/outbox that mentions ``text``, once the e-mail worker wrote it (the
    page is reloaded, as a person would)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(admit + "/dev/outbox")
        mail = page.locator("article.mail", has_text=text)
        if mail.count() or time.monotonic() > deadline:
            return mail
        time.sleep(0.3)


def test_person_and_operator_first_hour(browser, page, viewport, live_admit_debug, screenshot):
    """Sign up on the page, find the link in /dev/outbox (as the README says), confirm it, and
    a super-user who just ran createsuperuser finds the console and works the queue."""
    from playwright.sync_api import expect

    live = live_admit_debug
    admit = live.url
    audit = Audit(screenshot)
    phone = viewport["width"] < 600

    # A person signs up on the page.
    page.goto(admit + "/signup/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("E-mail address").fill("ada@example.com")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    _press(page, "Sign up")
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    # 1. The outbox shows the e-mail once, as an e-mail, and no notice box.
    mail = _outbox_mail(page, admit, "ada@example.com")
    expect(mail).to_have_count(1)
    expect(page.locator(".notices")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("{'subject'")
    audit.check(page, "outbox")

    # 7. Its link opens a page that says what is being confirmed.
    mail.locator('a[href*="/confirm/"]').click()
    page.wait_for_url(re.compile(re.escape(admit) + "/confirm/"))
    expect(page.locator("main")).to_contain_text(
        re.compile(r"the sign-up of ada for \S+, with the e-mail address a•••a@example\.com")
    )
    expect(page.locator("main")).not_to_contain_text("ada@example.com")
    audit.check(page, "confirm")
    _press(page, "Confirm")
    expect(page.get_by_role("heading", name="Confirmed")).to_be_visible()
    audit.check(page, "confirmed")

    # ada tries to log in before approval: refused, and on record in the audit log.
    _log_in(page, admit, "ada")
    expect(page.get_by_role("alert")).to_contain_text("waiting for approval")

    # 2. The operator: createsuperuser, log in; the home and account pages lead to the console.
    made = live.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    sign_up_ann_confirmed_bob_not(live)
    boss = browser.new_context(viewport=viewport)
    boss.set_default_timeout(20_000)
    try:
        console = boss.new_page()
        _log_in(console, admit, "boss", BOSS_PASSWORD)
        console.wait_for_url(admit + "/account/")
        expect(console.locator("#console")).to_contain_text("You are a super-user")
        audit.check(console, "account-superuser")
        console.goto(admit + "/")
        expect(console.locator("main").get_by_role("link", name="console")).to_be_visible()
        audit.check(console, "home-superuser")
        console.locator("main").get_by_role("link", name="approval queue").click()
        console.wait_for_url(admit + "/console/queue/")

        # 3. Approve is offered only where it can work; Reject asks first.
        rows = console.locator("#queue tbody tr")
        expect(rows).to_have_count(3)  # ada, ann (confirmed), bob (not)
        expect(console.get_by_role("button", name="Approve ada")).to_be_visible()
        expect(console.get_by_role("button", name="Approve bob")).to_have_count(0)
        bob_row = rows.filter(has_text="bob@example.com")
        expect(bob_row).to_contain_text("Approve once the e-mail is confirmed")
        # 5. On a phone the rows fold: the buttons are on screen, the page does not widen.
        for name in ("Approve ada", "Reject ada", "Reject bob"):
            assert _on_screen(console, console.get_by_role("button", name=name)), name
        audit.check(console, "queue")

        _press(console, "Reject bob")
        expect(console.get_by_role("heading", name="Reject bob?")).to_be_visible()
        expect(console.locator("#reject-list")).to_contain_text("bob@example.com")
        audit.check(console, "reject-ask")
        reason = console.get_by_label(re.compile("^Reason"))
        expect(reason).to_have_attribute("required", "")
        reason.fill("Only staff may sign up here.")
        _press(console, "Reject and delete bob")
        expect(console.locator(".notice.success")).to_contain_text("Rejected bob.")
        audit.check(console, "rejected")

        _press(console, "Approve ada")
        expect(console.locator(".notice.success")).to_contain_text("Approved ada.")

        # Bulk: both ticked, one confirmation page, one reason for each.
        for name in ("cat", "dan"):
            status, _, answer = live.call(
                "POST",
                "/zato/sso/user/signup",
                {"username": name, "password": GOOD_PASSWORD, "email": f"{name}@example.com",
                 "current_app": "CRM", "app_list": ["CRM"]},
            )  # fmt: skip
            assert status == 200, answer
        console.reload()
        console.get_by_role("checkbox", name="Select cat").check()
        console.get_by_role("checkbox", name="Select dan").check()
        _press(console, "Reject selected…")
        expect(console.get_by_role("heading", name="Reject 2 sign-ups?")).to_be_visible()
        _press(console, "Reject and delete 2 accounts")  # no reason yet: the browser asks
        expect(console.get_by_role("heading", name="Reject 2 sign-ups?")).to_be_visible()
        console.get_by_label(re.compile("^Reason")).fill("Duplicate sign-ups.")
        _press(console, "Reject and delete 2 accounts")
        expect(console.locator(".notice.success")).to_contain_text("Rejected cat, dan.")
        expect(console.locator("#queue tbody tr")).to_have_count(1)  # ann

        # The rejection e-mails carry the reasons.
        expect(_outbox_mail(page, admit, "Only staff may sign up here.")).to_contain_text(
            "bob@example.com"
        )
        expect(_outbox_mail(page, admit, "Duplicate sign-ups.").first).to_be_visible()

        # 4. The audit log: names, the reason of an error in words, Details readable.
        console.goto(admit + "/console/audit/")
        table = console.locator("#audit")
        approved = table.locator("tbody tr", has_text="signup.approve").first
        expect(approved.get_by_role("link", name="boss")).to_have_attribute(
            "title", re.compile("^zusr")
        )
        expect(approved.get_by_role("link", name="ada")).to_be_visible()
        refused = table.locator("tbody tr", has_text="E005004").first
        expect(refused).to_contain_text("The account is not approved yet.")
        rejected = table.locator("tbody tr", has_text="signup.reject").first
        expect(rejected).to_contain_text("reason: Duplicate sign-ups.")
        if not phone:
            details = table.locator("thead th", has_text="Details")
            box = details.bounding_box()
            assert box["x"] + box["width"] <= viewport["width"], box
            assert box["width"] >= 150, box  # not one word per line
        assert _on_screen(console, rejected.locator("td.extra"))
        audit.check(console, "audit")
        csv_page = console.request.get(admit + "/console/audit/?format=csv")
        assert "boss" not in csv_page.text() and "zusr" in csv_page.text()

        # 5. The dashboard's chart: labels drawn at a readable size on any screen.
        console.goto(admit + "/console/")
        label = console.locator("#funnel-chart .grid text").first
        assert label.bounding_box()["height"] >= 10, label.bounding_box()
        audit.check(console, "dashboard")
        console.goto(admit + "/console/users/")
        audit.check(console, "users")
    finally:
        boss.close()

    # 6. ada, approved, on two devices: "My sessions" with its end buttons (axe checks names).
    other = browser.new_context(viewport=viewport, user_agent="Second device (test)")
    try:
        _log_in(other.new_page(), admit, "ada")
        _log_in(page, admit, "ada")
        page.wait_for_url(admit + "/account/")
        expect(page.locator("#console")).to_have_count(0)  # not a super-user
        end = re.compile(r"^End this session\s+of Second device")
        button = page.get_by_role("button", name=end)
        expect(button).to_be_visible()
        assert _on_screen(page, button)
        audit.check(page, "account-two-sessions")
    finally:
        other.close()

    audit.assert_clean()


def test_remote_pages_are_one_family(
    page, viewport, remote_server, live_admit_smtp, mailbox, screenshot
):
    """8. The remote log-in and portal pages look like admit's: bold labels, notes under their
    fields, a portal header with the realm's name and a log-out; the e-mail greets by name."""
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    audit = Audit(screenshot)
    email = remote_server.user["email"]
    login_link = re.compile(re.escape(admit) + r"/remote-login/(?!confirm/)[^/]+/$")

    page.goto(remote_server.url + "/self-hosted-billing/?next_page=account")
    page.wait_for_url(login_link)
    label = page.locator("label[for=email]")
    assert int(label.evaluate("l => getComputedStyle(l).fontWeight")) >= 600
    audit.check(page, "email-form")
    _press(page, "Send the confirmation e-mail")
    audit.check(page, "check-email")

    mail = mailbox.wait_for(email)
    assert mail.text().startswith(f"Hello {remote_server.user['full_name']},"), mail.text()
    (confirm_link,) = re.findall(r"https?://\S+/remote-login/confirm/[^/\s]+/", mail.text())
    page.goto(confirm_link)
    audit.check(page, "confirm-email")
    _press(page, "Confirm and continue")

    page.wait_for_url(login_link)
    field = page.get_by_label("E-mail")
    note = page.locator("#email_hint")
    expect(note).to_have_text("Confirmed; it cannot be changed here.")
    assert note.bounding_box()["y"] >= field.bounding_box()["y"] + field.bounding_box()["height"]
    for name in ("E-mail", "Full name"):
        weight = page.locator("label", has_text=re.compile(f"^{name}$"))
        assert int(weight.evaluate("l => getComputedStyle(l).fontWeight")) >= 600, name
    audit.check(page, "confirm-login")
    _press(page, "Continue")  # without the Terms of Service: refused, and on record why
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_role("checkbox", name=re.compile("Terms of Service")).check()
    _press(page, "Continue")
    page.wait_for_url(admit + "/portal/account/")

    header = page.get_by_role("navigation", name="Portal")
    expect(header).to_contain_text(remote_server.realm["name"])
    expect(header.get_by_role("link", name="Account")).to_have_attribute("aria-current", "page")
    audit.check(page, "portal-account")
    header.get_by_role("link", name="Overview").click()
    page.wait_for_url(admit + "/portal/")
    audit.check(page, "portal-overview")
    _press(page, "Log out")
    expect(page.get_by_role("heading", name="You are logged out")).to_be_visible()
    audit.check(page, "portal-logged-out")
    page.goto(admit + "/portal/")
    expect(page.get_by_role("heading", name="Not authenticated")).to_be_visible()

    # The console's page for this remote server, with its audit rows, fits too.
    made = live_admit_smtp.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    _log_in(page, admit, "boss", BOSS_PASSWORD)
    page.goto(admit + f"/console/remote/{remote_server.uuid}/")
    refused = page.locator("#audit tbody tr", has_text="remote.login").filter(has_text="E005001")
    expect(refused).to_contain_text("refused: Terms of Service not accepted")
    audit.check(page, "console-remote-server")
    page.goto(admit + "/console/remote/")
    audit.check(page, "console-remote")

    audit.assert_clean()
