"""The whole first-time remote log-in of seeds 000/001, in real Chromium: the remote server's
menu and entry point, the e-mail form, the e-mail as the SMTP server received it, the
confirmation, confirm-login with the Terms of Service, and the portal page asked for.

Screenshots of each page land in tests/e2e/artifacts/<test name>/ (not committed)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

TOS_REQUIRED = "You must accept the Terms of Service to proceed."


def test_first_time_remote_login_in_chromium(
    page, remote_server, live_admit_smtp, mailbox, screenshot
):
    from playwright.sync_api import expect

    admit = live_admit_smtp.url
    email = remote_server.user["email"]
    login_link = re.compile(re.escape(admit) + r"/remote-login/(?!confirm/)[^/]+/$")
    failures: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda error: failures.append(f"script error: {error}"))

    # 1-2. The admin opens "Billing" in their own server's gear menu.
    page.goto(remote_server.url + "/")
    expect(page.get_by_role("heading", name="Zulip Dev")).to_be_visible()
    screenshot(page, "01-remote-server-menu")
    page.get_by_role("link", name="Billing").click()

    # 3-4. /self-hosted-billing/ asked admit for a signed link and redirected to it.
    page.wait_for_url(login_link)
    assert remote_server.errors == []
    first_link = page.url

    # 5. First time: the e-mail form, pre-filled from the signed token.
    expect(page).to_have_title(re.compile("Confirm your e-mail"))
    expect(page.get_by_role("heading", name="Log in for the first time")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value(email)
    screenshot(page, "02-email-form")

    # 6. Posting it sends the confirmation e-mail and says to check it.
    page.get_by_role("button", name="Send the confirmation e-mail").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)
    screenshot(page, "03-check-email")

    # 7. The e-mail worker delivered it over SMTP; its link points at this admit.
    mail = mailbox.wait_for(email)
    assert mail.message["Subject"] == "Confirm your e-mail to log in"
    assert "Zulip Dev" in mail.text()
    links = re.findall(r"https?://\S+/remote-login/confirm/[^/\s]+/", mail.text())
    assert len(links) == 1, mail.text()
    confirm_link = links[0]
    assert confirm_link.startswith(admit + "/remote-login/confirm/")
    assert f'href="{confirm_link}"' in mail.html()

    page.goto(confirm_link)
    expect(page.get_by_role("heading", name="Confirm your e-mail")).to_be_visible()
    screenshot(page, "04-confirm-email")
    page.get_by_role("button", name="Confirm and continue").click()

    # 8. The user exists now; a new signed link lands them on confirm-login as a known user.
    page.wait_for_url(login_link)
    assert page.url != first_link
    expect(page.get_by_role("heading", name="Confirm login")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value(email)
    expect(page.get_by_label("Full name")).to_have_value(remote_server.user["full_name"])
    tos = page.get_by_role("checkbox", name=re.compile("Terms of Service"))
    expect(tos).not_to_be_checked()
    screenshot(page, "05-confirm-login")
    confirm_login_url = page.url

    # 9. Without the ToS box: refused, and the edited name is kept in the form.
    page.get_by_label("Full name").fill("Iago Hyde")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text(TOS_REQUIRED)
    expect(page.get_by_label("Full name")).to_have_value("Iago Hyde")
    screenshot(page, "06-confirm-login-tos-required")

    tos.check()
    page.get_by_role("button", name="Continue").click()

    # 10. Logged in, on the next_page the remote server asked for.
    page.wait_for_url(admit + "/portal/account/")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Iago Hyde")
    expect(page.locator("main")).to_contain_text(email)
    screenshot(page, "07-portal-account")

    # The portal identity, from the same browser session.
    session = page.request.get(admit + "/api/v1/remotes/session")
    assert session.status == 200, session.text()
    identity = session.json()
    assert identity["user"] == {
        "uuid": remote_server.user["uuid"],
        "email": email,
        "full_name": "Iago Hyde",
    }
    assert identity["remote_server_uuid"] == remote_server.uuid
    assert identity["remote_realm_uuid"] == remote_server.realm["uuid"]
    assert identity["next_page"] == "account"
    assert identity["authenticated_at"]

    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(admit + "/portal/")
    expect(page.get_by_role("heading", name="Zulip Dev")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Iago Hyde — " + email)
    screenshot(page, "08-portal-overview")

    # Only the refused ToS post answered an error; the stylesheet and every page loaded.
    assert failures == [f"400 {confirm_login_url}"]
