"""The audit log: filters, pages, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from admit.audit.models import AuditEvent
from tests.console.conftest import make_user, sign_up

pytestmark = pytest.mark.django_db

AUDIT = "/console/audit/"


def rows_of(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_filter_by_user_event_and_app(console, admin_ust):
    ann = sign_up("ann", app="ERP", apps=("ERP",))
    make_user(admin_ust, "alice")
    text = console.get(AUDIT, {"user_id": ann}).content.decode()
    assert "2 events" in text  # signup and signup.confirm
    assert '<th scope="row">signup.confirm</th>' in text
    assert '<th scope="row">user.create</th>' not in text
    text = console.get(AUDIT, {"event": "user.create"}).content.decode()
    assert "1 event" in text and ann not in text
    text = console.get(AUDIT, {"app": "ERP", "event": "signup"}).content.decode()
    assert 'id="audit-total">1 event<' in text


def test_filter_by_dates(console):
    old = sign_up("old", confirm=False)
    sign_up("new", confirm=False)
    signup = AuditEvent.objects.get(event="signup", target_user_id=old)
    AuditEvent.objects.filter(pk=signup.pk).update(created_at=signup.created_at - timedelta(days=3))
    today = signup.created_at.date()
    recent = console.get(AUDIT, {"event": "signup", "since": today.isoformat()})
    assert 'id="audit-total">1 event<' in recent.content.decode()
    earlier = console.get(
        AUDIT, {"event": "signup", "until": (today - timedelta(days=1)).isoformat()}
    )
    assert 'id="audit-total">1 event<' in earlier.content.decode()
    bad = console.get(AUDIT, {"since": "not a date"})
    assert bad.status_code == 400 and "Enter a valid date." in bad.content.decode()


def test_pages_of_fifty(console, admin_ust):
    for n in range(55):
        AuditEvent.objects.create(created_at=AuditEvent.objects.first().created_at,
                                  event="test.event", outcome="ok", cid=f"c{n}")  # fmt: skip
    first = console.get(AUDIT, {"event": "test.event"}).content.decode()
    assert first.count('<th scope="row">test.event</th>') == 50
    assert "Page 1 of 2" in first and "event=test.event&amp;page=2" in first
    second = console.get(AUDIT, {"event": "test.event", "page": 2}).content.decode()
    assert second.count('<th scope="row">test.event</th>') == 5


def test_csv_export_of_the_filtered_rows(console, superuser, admin_ust):
    alice = make_user(admin_ust, "alice")
    sign_up("ann")
    response = console.get(AUDIT, {"event": "user.create", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="admit-audit.csv"'
    rows = rows_of(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["event"] == "user.create" and row["outcome"] == "ok"
    assert row["actor_user_id"] == superuser.user_id and row["target_user_id"] == alice
    assert row["created_at"].endswith("+00:00")
    everything = rows_of(console.get(AUDIT, {"format": "csv"}))
    assert {"signup", "signup.confirm", "login", "user.create"} <= {r["event"] for r in everything}


def test_csv_cells_never_start_a_formula(console, superuser):
    AuditEvent.objects.create(
        created_at=AuditEvent.objects.first().created_at,
        event="test.event", outcome="ok", cid="c1", app="=HYPERLINK(1)",
    )  # fmt: skip
    rows = rows_of(console.get(AUDIT, {"event": "test.event", "format": "csv"}))
    assert rows[0]["app"] == "'=HYPERLINK(1)"


def test_rows_name_users_and_say_why_an_event_failed(console, admin_ust, superuser):
    from admit.console.forms import AUDIT_WORDS
    from admit.core.errors import Code

    bob = sign_up("bob", confirm=False)
    console.post("/console/queue/", {"action": "approve", "user_id": bob})  # refused: E005003
    text = console.get(AUDIT, {"event": "signup.approve"}).content.decode()
    # Usernames, with the id on hover (title) and as the filter link.
    assert f'title="{superuser.user_id}">{superuser.username}</a>' in text
    assert f'title="{bob}">bob</a>' in text
    # The code, and its words next to it.
    words = "Not confirmed yet: the person has not confirmed their e-mail."
    assert f"<code>E005003</code> {words}" in text
    # Every code admit has can be told in words.
    assert set(Code) <= set(AUDIT_WORDS)


def test_a_user_who_no_longer_exists_keeps_the_id(console):
    ann = sign_up("ann")
    console.post(
        "/console/queue/", {"action": "reject", "user_id": ann, "reason": "x", "confirmed": "on"}
    )
    text = console.get(AUDIT, {"event": "signup.reject"}).content.decode()
    gone = f'<span class="id">{ann}</span></a> <span class="muted">(no longer exists)</span>'
    assert gone in text


def test_the_csv_keeps_the_ids(console, superuser):
    sign_up("ann")
    rows = rows_of(console.get(AUDIT, {"format": "csv"}))
    assert superuser.username not in {row["actor_user_id"] for row in rows}
    assert all(row["target_user_id"].startswith("zusr") for row in rows if row["target_user_id"])


def _oidc_events_in_the_sources() -> set[str]:
    """Every ``"oidc.<event>"`` string in admit's code: what record(), audited() and
    issuing.note() write (model labels such as "oidc.Client" are capitalised, so not matched)."""
    import re
    from pathlib import Path

    import admit

    found: set[str] = set()
    for path in Path(admit.__file__).parent.rglob("*.py"):
        found |= set(re.findall(r"""["'](oidc\.[a-z_]+)["']""", path.read_text()))
    return found


def test_every_openid_connect_event_and_error_has_words(console, superuser):
    from django.test import Client as Browser

    from admit.console.forms import AUDIT_WORDS, EVENT_WORDS
    from tests.conftest import ADMIN_PASSWORD
    from tests.oidc.support import Pkce, exchange, get_code, log_in, make_client

    events = _oidc_events_in_the_sources()
    assert {"oidc.authorize", "oidc.token", "oidc.client_add", "oidc.consent_revoke"} <= events
    assert events - set(EVENT_WORDS) == set()
    # A real flow's rows, shown with the event's words and the OAuth error's.
    new = make_client()
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    pkce = Pkce()
    code = get_code(browser, new.client.client_id, pkce)
    assert exchange(browser, new, code, pkce).status_code == 200
    assert exchange(browser, new, code, pkce).status_code == 400  # the code again
    written = set(
        AuditEvent.objects.filter(event__startswith="oidc.").values_list("event", flat=True)
    )
    assert written == {
        "oidc.client_add",
        "oidc.consent",
        "oidc.authorize",
        "oidc.token",
        "oidc.code_reuse",
    }
    text = console.get(AUDIT, {"event": "oidc.code_reuse"}).content.decode()
    words = EVENT_WORDS["oidc.code_reuse"]
    assert f'<th scope="row">oidc.code_reuse<span class="why">{words}</span></th>' in text
    assert f"<code>invalid_grant</code> {AUDIT_WORDS['invalid_grant']}" in text
