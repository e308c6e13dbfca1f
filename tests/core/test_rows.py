"""The hot paths' writes: the same rows as the ORM's, landing with the flow's transaction."""

from __future__ import annotations

import pytest

from admit.audit.log import audited
from admit.audit.models import AuditEvent
from admit.core import clock, rows
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.mail.models import OutgoingEmail
from admit.mail.outbox import enqueue

pytestmark = pytest.mark.django_db

CALLER = Caller(cid="c" * 24, remote_ip="10.0.0.1")


def test_insert_writes_the_row_and_sets_its_key():
    event = rows.insert(AuditEvent(created_at=clock.now(), event="x", outcome="ok", cid="c"))
    assert event.pk is not None
    assert AuditEvent.objects.get(pk=event.pk).event == "x"


def test_late_writes_land_together_when_the_flow_succeeds():
    with audited("test.flow", CALLER) as audit:
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        enqueue("welcome", "b@example.com", {"user": {"username": "b"}})
        audit.extra_data["step"] = "queued"
        assert not OutgoingEmail.objects.exists()  # kept until the commit
    assert sorted(OutgoingEmail.objects.values_list("to", flat=True)) == [
        "a@example.com",
        "b@example.com",
    ]
    assert AuditEvent.objects.get(event="test.flow").extra_data == {"step": "queued"}


def test_a_refused_flow_drops_its_late_writes_but_keeps_its_audit_row():
    with pytest.raises(AdmitError), audited("test.flow", CALLER):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        raise AdmitError(Code.NOT_ALLOWED, "refused")
    assert not OutgoingEmail.objects.exists()
    refused = AuditEvent.objects.get(event="test.flow")
    assert (refused.outcome, refused.error_codes) == ("error", "E005001")


def test_outside_a_flow_late_writes_happen_at_once():
    enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
    assert OutgoingEmail.objects.get().to == "a@example.com"


def test_update_at_commit_changes_the_row_and_the_object():
    event = rows.insert(AuditEvent(created_at=clock.now(), event="x", outcome="ok", cid="c"))
    with audited("test.flow", CALLER):
        rows.update_at_commit(event, outcome="error", error_codes="E005001")
        assert event.outcome == "error"
    event.refresh_from_db()
    assert (event.outcome, event.error_codes) == ("error", "E005001")
