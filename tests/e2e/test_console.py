"""The super-admin console in real Chromium against a real ``admit serve``: a person signs up
and confirms through the API, the super-user logs in on /login/ (sent there by the console),
approves the sign-up in the queue, the welcome e-mail arrives over SMTP, the person logs in
through the API, and the super-user sees and ends that session from the console; last, the
page of an OpenID Connect client.

Screenshots of each console page land in tests/e2e/artifacts/<test name>/ (not committed);
docs/console.md names them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import sign_up_ann_confirmed_bob_not

pytestmark = pytest.mark.e2e

BOSS_PASSWORD = "Correct-Horse-Battery-42"


def test_superuser_approves_in_the_console(page, live_admit_smtp, mailbox, screenshot):
    from playwright.sync_api import expect

    live = live_admit_smtp
    admit = live.url
    failures: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda error: failures.append(f"script error: {error}"))

    made = live.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": BOSS_PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    # Two people sign up through the API; one of them confirms.
    sign_up_ann_confirmed_bob_not(live)

    # The console sends a visitor to log in, and back after.
    page.goto(admit + "/console/queue/")
    page.wait_for_url(re.compile(re.escape(admit) + r"/login/\?next="))
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(BOSS_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(admit + "/console/queue/")

    # The queue: counts, both sign-ups, their status.
    expect(page.get_by_role("heading", name="Approval queue")).to_be_visible()
    expect(page.locator("#count-to-approve")).to_have_text("1")
    expect(page.locator("#count-to-confirm")).to_have_text("1")
    ann_row = page.locator("tr", has_text="ann@example.com")
    expect(ann_row).to_contain_text("confirmed")
    expect(page.locator("tr", has_text="bob@example.com")).to_contain_text("to confirm")
    screenshot(page, "01-queue")

    # bob cannot be approved yet: no Approve button on his row, and a bulk approval that
    # includes him says why in plain words.
    expect(page.get_by_role("button", name="Approve bob")).to_have_count(0)
    page.get_by_role("checkbox", name="Select bob").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator(".notice.error")).to_contain_text("Not confirmed yet")
    screenshot(page, "02-queue-not-confirmed")

    # Filters: to approve only.
    page.get_by_label("Status").select_option("to-approve")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#queue tbody tr")).to_have_count(1)

    # Approve ann: the welcome e-mail goes out over SMTP.
    page.get_by_role("button", name="Approve ann").click()
    expect(page.locator(".notice.success")).to_contain_text("Approved ann.")
    assert "status=to-approve" in page.url
    screenshot(page, "03-queue-approved")
    welcome = mailbox.wait_for("ann@example.com")
    assert "ann" in welcome.text()

    # The person logs in through the API.
    status, _, answer = live.call(
        "POST",
        "/zato/sso/user/login",
        {"username": "ann", "password": GOOD_PASSWORD, "current_app": "CRM"},
    )
    assert status == 200, answer
    ann_ust = answer["ust"]

    # The dashboard: counts and the funnel.
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#count-to-approve")).to_have_text("0")
    expect(page.locator("#count-live-sessions")).to_have_text("2")
    assert page.locator("#funnel-chart g.series").count() == 4
    expect(page.locator('#funnel-chart g.series[data-step="signed-up"]')).to_have_attribute(
        "data-total", "2"
    )
    expect(page.locator('#funnel-chart g.series[data-step="approved"]')).to_have_attribute(
        "data-total", "1"
    )
    screenshot(page, "04-dashboard")

    # Users: search, ann's page with her session; end it.
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("textbox", name="Search").fill("ann")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#users-total")).to_have_text("1 user found.")
    screenshot(page, "05-users")
    page.get_by_role("link", name="ann", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^ann"))).to_be_visible()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    screenshot(page, "06-user")
    page.get_by_role("button", name="End all sessions").click()
    expect(page.locator(".notice.success")).to_contain_text("Ended 1 session.")
    expect(page.get_by_text("No live sessions.")).to_be_visible()
    status, _, answer = live.call("GET", f"/zato/sso/user/session?current_ust={ann_ust}")
    assert status != 200 and "E007001" in answer["sub_status"], answer

    # Create a user directly.
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="Create a user").click()
    page.get_by_label("Username").fill("carol")
    page.get_by_label("E-mail").fill("carol@example.com")
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    screenshot(page, "07-user-new")
    page.get_by_role("button", name="Create the user").click()
    expect(page.locator(".notice.success")).to_contain_text("Created carol.")

    # Remote servers (none here) and the audit log, filtered.
    page.get_by_role("link", name="Remote servers").click()
    expect(page.get_by_role("heading", name="Remote servers")).to_be_visible()
    screenshot(page, "08-remote")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Event").select_option("signup.approve")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-total")).to_have_text("2 events")  # bob refused, ann approved
    screenshot(page, "09-audit")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these as CSV").click()
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("created_at,event,outcome") and csv_text.count("signup.approve") == 2

    # An OpenID Connect client: the Apps page links its page, which shows what
    # `admit apps show` shows, and never a secret.
    added = live.run(
        "apps", "add-client", "CRM",
        "--redirect-uri", "https://crm.example.com/oidc/callback/",
        "--post-logout-redirect-uri", "https://crm.example.com/",
        "--algorithm", "ES256", "--refresh-id-token", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    client = json.loads(added.stdout)
    page.get_by_role("link", name="Apps", exact=True).click()
    page.get_by_role("link", name=client["client_id"]).click()
    expect(page.get_by_role("heading", name="The CRM client")).to_be_visible()
    expect(page.locator("#client-post_logout_redirect_uris")).to_have_text(
        "https://crm.example.com/"
    )
    expect(page.locator("#client-algorithm")).to_contain_text("ES256")
    expect(page.locator("#client-refresh_id_token")).to_contain_text("yes")
    assert client["client_secret"] not in page.content()
    screenshot(page, "10-app")

    # bob's refused approval was the only 4xx the browser saw.
    assert [f for f in failures if "/console/" in f] == [], failures
