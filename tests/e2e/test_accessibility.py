"""Accessibility of every page a person or a super-admin can reach: axe-core (bundled with
axe-playwright-python) runs inside real Chromium on each page, against a real ``admit serve``.
A page fails on a "serious" or "critical" violation; "moderate" and "minor" ones are printed
(``pytest -s`` shows them) and listed in the failure message when there is one.

One test per area (people, console, remote log-in) so a failure names its area, page and rule.
Each runs on a desktop (1280 × 800) and a phone-sized screen (390 × 844), and every page it
checks must also be no wider than the viewport (``Audit.fits``).

Screenshots of each checked page land in tests/e2e/artifacts/<test name>/ (not committed)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from admit.core import totp
from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import BOTH_SIZES, Audit, sign_up_ann_confirmed_bob_not
from tests.e2e.test_people_pages import BOSS_PASSWORD, approve_in_console, log_in

pytestmark = pytest.mark.e2e


def _post_form(page: Any, button: str) -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state("load")


def add_client_allowed_by(live: Any, username: str) -> str:
    """A CRM client (``admit apps add-client``) that ``username`` has allowed, as the consent
    page would record it; its client_id."""
    added = live.run(
        "apps", "add-client", "CRM", "--redirect-uri", "https://crm.example.com/cb", "--json"
    )
    assert added.returncode == 0, added.stderr
    client_id = json.loads(added.stdout)["client_id"]
    granted = live.python(
        "from admit.sso.models import User\n"
        "from admit.sso.oidc import consents\n"
        "from admit.sso.oidc.models import Client\n"
        f"consents.grant(User.objects.get(username={username!r}),"
        f" Client.objects.get(client_id={client_id!r}), ['openid', 'profile', 'email'])\n"
    )
    assert granted.returncode == 0, granted.stderr
    return client_id


@BOTH_SIZES
def test_people_pages_are_accessible(browser, page, live_admit_smtp, mailbox, screenshot):
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    audit = Audit(screenshot)
    email = "ada@example.com"

    page.goto(admit + "/")
    audit.check(page, "home")

    # Sign up: empty, with the policy's errors, then "check your e-mail".
    page.goto(admit + "/signup/")
    audit.check(page, "signup")
    page.get_by_label("Username").fill("ada lovelace")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("short")
    _post_form(page, "Sign up")
    expect(page.locator("#id_password_error")).to_be_visible()
    audit.check(page, "signup-errors")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    _post_form(page, "Sign up")
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    audit.check(page, "signup-check-email")

    # The confirmation link: the button page, then its answer; and a broken link.
    links = re.findall(r"https?://\S+/confirm/[^/\s]+/", mailbox.wait_for(email).text())
    page.goto(links[0])
    audit.check(page, "confirm")
    _post_form(page, "Confirm")
    expect(page.get_by_role("heading", name="Confirmed")).to_be_visible()
    audit.check(page, "confirm-done")
    page.goto(admit + "/confirm/garbage/")
    audit.check(page, "confirm-broken-link")

    # Log in: empty, and refused (not approved yet).
    page.goto(admit + "/login/")
    audit.check(page, "login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    _post_form(page, "Log in")
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check(page, "login-error")

    # Forgot password: ask, its answer, and the set page (empty and refused).
    page.goto(admit + "/password/reset/")
    audit.check(page, "password-reset")
    page.get_by_label("Username or e-mail address").fill("nobody@example.com")
    _post_form(page, "Send the reset token")
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    audit.check(page, "password-reset-sent")
    page.goto(admit + "/password/reset/set/")
    audit.check(page, "password-reset-set")
    page.get_by_label("Reset token from the e-mail").fill("not-a-token")
    page.get_by_label("New password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_label("New password again").fill(GOOD_PASSWORD + "x")
    _post_form(page, "Set the new password")
    audit.check(page, "password-reset-set-errors")

    # My account and its forms, once approved (and with an app allowed to use it).
    approve_in_console(browser, live_admit_smtp, "ada", screenshot)
    add_client_allowed_by(live_admit_smtp, "ada")
    log_in(page, admit, "ada")
    expect(page.locator("#apps h3")).to_have_text("CRM")
    audit.check(page, "account")
    page.get_by_label("Display name").fill("Ada")
    _post_form(page, "Save the profile")
    expect(page.get_by_role("status")).to_contain_text("profile is saved")
    audit.check(page, "account-profile-saved")
    page.get_by_label("Display name").fill("x" * 300)
    _post_form(page, "Save the profile")
    audit.check(page, "account-profile-errors")
    page.get_by_label("Current password").fill("wrong-password-123")
    page.get_by_label("New password", exact=True).fill(GOOD_PASSWORD + "-new")
    _post_form(page, "Change the password")
    audit.check(page, "account-password-errors")

    # A phone-sized screen: the account page folds its sessions table.
    phone_context = browser.new_context(viewport={"width": 390, "height": 800})
    phone_context.set_default_timeout(20_000)
    try:
        phone = phone_context.new_page()
        log_in(phone, admit, "ada")
        audit.check(phone, "account-phone")
    finally:
        phone_context.close()

    # Taking an app's access back.
    _post_form(page, "Revoke the access of CRM")
    expect(page.get_by_role("status")).to_contain_text("no longer has access")
    audit.check(page, "account-app-revoked")

    # The console is not for people.
    page.goto(admit + "/console/")
    audit.check(page, "console-forbidden")

    # Two-step verification: the QR code, a wrong code, then on; the code prompt at log-in.
    page.goto(admit + "/account/totp/")
    expect(page.locator(".qr svg")).to_be_visible()
    audit.check(page, "totp-setup")
    key = page.locator("code.key").inner_text().replace(" ", "")
    page.get_by_label("Code from the new key").fill("000000")
    _post_form(page, "Turn it on")
    audit.check(page, "totp-setup-errors")
    step = totp.step_of(datetime.now(UTC))
    code = totp.code_at(key, step)
    page.get_by_label("Code from the new key").fill(code if code != "000000" else "000001")
    _post_form(page, "Turn it on")
    expect(page.get_by_role("status")).to_contain_text("Two-step verification is on")
    audit.check(page, "account-totp-on")
    _post_form(page, "Log out")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    _post_form(page, "Log in")
    expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    audit.check(page, "login-totp-prompt")

    audit.assert_clean()


@BOTH_SIZES
def test_console_pages_are_accessible(page, live_admit_smtp, screenshot):
    from playwright.sync_api import expect

    live = live_admit_smtp
    admit = live.url
    audit = Audit(screenshot)
    made = live.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    added = live.run(
        "remote-servers", "add",
        "--hostname", "chat.example.com", "--contact-email", "ops@example.com", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    server_uuid = json.loads(added.stdout)["uuid"]

    # One sign-up confirmed (with a live session after approval), one not.
    sign_up_ann_confirmed_bob_not(live)

    page.goto(admit + "/login/?next=/console/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(BOSS_PASSWORD)
    _post_form(page, "Log in")
    page.wait_for_url(admit + "/console/")
    audit.check(page, "dashboard")
    page.goto(admit + "/console/?by=week")
    page.locator("details summary").click()
    audit.check(page, "dashboard-week-table")

    page.goto(admit + "/console/queue/")
    audit.check(page, "queue")
    page.get_by_role("checkbox", name="Select bob").check()
    _post_form(page, "Approve selected")
    expect(page.locator(".notice.error")).to_be_visible()
    audit.check(page, "queue-error")
    _post_form(page, "Reject bob")
    expect(page.get_by_role("heading", name="Reject bob?")).to_be_visible()
    audit.check(page, "queue-reject-ask")
    page.get_by_label(re.compile("^Reason")).evaluate("field => field.required = false")
    _post_form(page, "Reject and delete bob")
    expect(page.locator("#reject-reason-error")).to_be_visible()
    audit.check(page, "queue-reject-no-reason")
    page.get_by_role("link", name="Cancel, keep it").click()
    page.get_by_role("button", name="Approve ann").click()
    expect(page.locator(".notice.success")).to_be_visible()
    audit.check(page, "queue-approved")
    status, _, answer = live.call(
        "POST",
        "/zato/sso/user/login",
        {"username": "ann", "password": GOOD_PASSWORD, "current_app": "CRM"},
    )
    assert status == 200, answer

    page.goto(admit + "/console/users/")
    audit.check(page, "users")
    page.goto(admit + "/console/users/?q=ann")
    audit.check(page, "users-search")
    page.get_by_role("link", name="ann", exact=True).click()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    audit.check(page, "user")
    page.goto(admit + "/console/users/no-such-user/")
    audit.check(page, "user-missing")

    page.goto(admit + "/console/users/new/")
    audit.check(page, "user-new")
    page.get_by_label("Username").fill("carol smith")
    _post_form(page, "Create the user")
    audit.check(page, "user-new-errors")

    page.goto(admit + "/console/remote/")
    audit.check(page, "remote")
    page.goto(admit + f"/console/remote/{server_uuid}/")
    audit.check(page, "remote-server")

    # OpenID Connect clients: the list, a client's page (and one that does not exist), the
    # add form and its errors, a secret shown once, the questions before rotating and
    # removing; a user page with an app the user allowed.
    client_id = add_client_allowed_by(live, "ann")
    page.goto(admit + "/console/apps/")
    audit.check(page, "apps")
    page.get_by_role("link", name=client_id).click()
    expect(page.get_by_role("heading", name="The CRM client")).to_be_visible()
    expect(page.locator("#client-consents")).to_have_text("1 person has allowed the app")
    audit.check(page, "app")
    _post_form(page, "Remove the client")
    expect(page.get_by_role("heading", name="Remove the CRM client?")).to_be_visible()
    audit.check(page, "app-remove-ask-from-its-page")
    page.get_by_role("link", name="Cancel, keep it").click()
    expect(page.get_by_role("heading", name="The CRM client")).to_be_visible()
    page.goto(admit + "/console/apps/no-such-client/")
    expect(page.get_by_role("heading", name="No such client")).to_be_visible()
    audit.check(page, "app-missing")
    page.goto(admit + "/console/apps/")
    page.get_by_role("link", name="Add a client").click()
    audit.check(page, "app-new")
    page.get_by_label("App", exact=True).select_option("ERP")
    page.get_by_label("Redirect URIs", exact=True).fill("http://erp.example.com/cb")
    _post_form(page, "Add the client")
    expect(page.locator("#id_redirect_uris_error")).to_be_visible()
    audit.check(page, "app-new-errors")
    page.get_by_label("Redirect URIs", exact=True).fill("https://erp.example.com/cb")
    _post_form(page, "Add the client")
    expect(page.locator("code.secret")).to_be_visible()
    audit.check(page, "app-added")
    page.goto(admit + "/console/apps/")
    _post_form(page, f"Rotate the secret of the CRM client {client_id}")
    expect(page.get_by_role("heading", name="Rotate the secret of the CRM client?")).to_be_visible()
    audit.check(page, "app-rotate-ask")
    page.goto(admit + "/console/apps/")
    _post_form(page, f"Remove the CRM client {client_id}")
    expect(page.get_by_role("heading", name="Remove the CRM client?")).to_be_visible()
    audit.check(page, "app-remove-ask")
    page.goto(admit + "/console/users/?q=ann")
    page.get_by_role("link", name="ann", exact=True).click()
    expect(page.locator("#apps tbody tr")).to_have_count(1)
    audit.check(page, "user-with-apps")

    page.goto(admit + "/console/audit/")
    audit.check(page, "audit")
    page.goto(admit + "/console/audit/?event=signup.approve&since=not-a-date")
    audit.check(page, "audit-filtered")

    audit.assert_clean()


@BOTH_SIZES
def test_remote_pages_are_accessible(
    browser, page, viewport, remote_server, live_admit_smtp, mailbox, screenshot
):
    from playwright.sync_api import expect

    live = live_admit_smtp
    admit = live.url
    audit = Audit(screenshot)
    login_link = re.compile(re.escape(admit) + r"/remote-login/(?!confirm/)[^/]+/$")

    # The first-time flow: e-mail form, check your e-mail, the confirmation button.
    page.goto(remote_server.url + "/self-hosted-billing/?next_page=account")
    page.wait_for_url(login_link)
    first_link = page.url
    audit.check(page, "email-form")
    _post_form(page, "Send the confirmation e-mail")
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    audit.check(page, "check-email")
    mail = mailbox.wait_for(remote_server.user["email"])
    (confirm_link,) = re.findall(r"https?://\S+/remote-login/confirm/[^/\s]+/", mail.text())
    page.goto(confirm_link)
    audit.check(page, "confirm-email")
    page.get_by_role("button", name="Confirm and continue").click()

    # Confirm-login with the ToS box: as shown, refused without the box, then accepted.
    page.wait_for_url(login_link)
    expect(page.get_by_role("heading", name="Confirm login")).to_be_visible()
    audit.check(page, "confirm-login")
    _post_form(page, "Continue")
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check(page, "confirm-login-tos-required")
    page.get_by_role("checkbox", name=re.compile("Terms of Service")).check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(admit + "/portal/account/")
    audit.check(page, "portal-account")
    page.goto(admit + "/portal/")
    audit.check(page, "portal-overview")
    page.goto(admit + "/portal/deactivate/")
    audit.check(page, "portal-deactivate-realm")

    # Error pages: a used link, an invalid one, a broken confirmation link, no session.
    page.goto(first_link)
    audit.check(page, "link-used")
    page.goto(admit + "/remote-login/garbage/")
    audit.check(page, "link-invalid")
    page.goto(admit + "/remote-login/confirm/garbage/")
    audit.check(page, "confirm-broken-link")
    stranger_context = browser.new_context(viewport=viewport)
    stranger_context.set_default_timeout(20_000)
    try:
        stranger = stranger_context.new_page()
        stranger.goto(admit + "/portal/")
        audit.check(stranger, "portal-not-authenticated")

        # Server log-in: empty, refused, then a server admin on the portal and deactivate.
        added = live.run(
            "remote-servers", "add",
            "--hostname", "other.example.com", "--contact-email", "ops@example.com", "--json",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        credentials = json.loads(added.stdout)
        stranger.goto(admit + "/serverlogin/?next_page=deactivate")
        audit.check(stranger, "serverlogin")
        stranger.get_by_label("Server uuid").fill(credentials["uuid"])
        stranger.get_by_label("Server key").fill("wrong-key")
        _post_form(stranger, "Continue")
        expect(stranger.get_by_role("alert")).to_be_visible()
        audit.check(stranger, "serverlogin-error")
        stranger.get_by_label("Server uuid").fill(credentials["uuid"])
        stranger.get_by_label("Server key").fill(credentials["key"])
        _post_form(stranger, "Continue")
        stranger.wait_for_url(login_link)
        audit.check(stranger, "email-form-server-level")
        stranger.get_by_label("E-mail").fill("admin@other.example.com")
        _post_form(stranger, "Send the confirmation e-mail")
        mail = mailbox.wait_for("admin@other.example.com")
        (confirm_link,) = re.findall(r"https?://\S+/remote-login/confirm/[^/\s]+/", mail.text())
        stranger.goto(confirm_link)
        stranger.get_by_role("button", name="Confirm and continue").click()
        stranger.wait_for_url(login_link)
        stranger.get_by_label("Full name").fill("Server Admin")
        stranger.get_by_role("checkbox", name=re.compile("Terms of Service")).check()
        stranger.get_by_role("button", name="Continue").click()
        stranger.wait_for_url(admit + "/portal/deactivate/")
        audit.check(stranger, "portal-deactivate-server")
        _post_form(stranger, "Deactivate the server")
        audit.check(stranger, "portal-deactivated")
        stranger.goto(admit + "/portal/")
        audit.check(stranger, "portal-overview-server")
    finally:
        stranger_context.close()

    audit.assert_clean()
