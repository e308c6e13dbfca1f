"""admit.confirmations: typed, expiring, one-time keys for any object, three failure kinds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from admit.audit.models import AuditEvent
from admit.confirmations import engine
from admit.confirmations.models import Confirmation
from admit.core.context import Caller
from admit.core.secrets import digest
from admit.sso.flows.users import create_superuser

pytestmark = pytest.mark.django_db

NOTE = "test.note"
confirmed_objects: list[str] = []


def _on_confirm(confirmation, audit) -> str:
    confirmed_objects.append(confirmation.object_id)
    audit.target_user_id = "zusrtarget"
    return "noted"


@pytest.fixture(autouse=True)
def note_kind(monkeypatch):
    """Registers the test's own kind in a copy of the registry, which the service's own
    registry replaces again after the test: no other test sees the kind."""
    service_kinds = engine._KINDS
    assert NOTE not in service_kinds
    monkeypatch.setattr(engine, "_KINDS", dict(service_kinds))
    engine.register(
        engine.ConfirmationKind(
            NOTE, lambda: timedelta(hours=1), "test.confirm", lambda c: "a note", _on_confirm
        )
    )
    assert NOTE in engine.page_kinds() and NOTE not in service_kinds
    confirmed_objects.clear()


@pytest.fixture
def target():
    return create_superuser("owner", "owner@example.com", "Correct-Horse-Battery-42", Caller())


def test_a_key_confirms_its_object_once(target):
    key = engine.create(target, NOTE)
    assert key.startswith("zcnt") and len(key) == 36
    assert engine.describe(key) == "a note"
    result = engine.confirm(key, Caller())
    assert (result.kind, result.message) == (NOTE, "noted")
    assert confirmed_objects == [str(target.pk)]
    with pytest.raises(engine.KeyExpiredOrUsed) as used:
        engine.confirm(key, Caller())
    assert used.value.was_used and used.value.codes == ["E005007"]
    assert confirmed_objects == [str(target.pk)]


def test_only_the_digest_is_stored(target):
    key = engine.create(target, NOTE)
    row = Confirmation.objects.get()
    assert row.key_digest == digest(key) and key not in str(Confirmation.objects.values().get())
    assert (row.object_type, row.object_id, row.kind) == ("sso.user", str(target.pk), NOTE)


def test_each_key_is_new(target):
    assert len({engine.create(target, NOTE) for _ in range(20)}) == 20


def test_three_failure_kinds(target, clock):
    with pytest.raises(engine.MalformedKey):
        engine.lookup("zcnt-not-hex")
    with pytest.raises(engine.KeyNotFound):
        engine.lookup("zcnt" + "0" * 32)
    key = engine.create(target, NOTE)
    clock.advance(hours=1)
    with pytest.raises(engine.KeyExpiredOrUsed) as expired:
        engine.lookup(key)
    assert not expired.value.was_used and expired.value.codes == ["E005006"]


def test_a_key_of_another_kind_is_not_found(target):
    key = engine.create(target, NOTE)
    with pytest.raises(engine.KeyNotFound):
        engine.confirm(key, Caller(), kinds=("signup",))
    assert confirmed_objects == []


def test_revoked_keys_stop_working(target):
    first, second = engine.create(target, NOTE), engine.create(target, NOTE)
    assert engine.revoke(target, NOTE) == 2
    for key in (first, second):
        with pytest.raises(engine.KeyExpiredOrUsed) as revoked:
            engine.confirm(key, Caller())
        assert not revoked.value.was_used
    assert confirmed_objects == []


def test_confirmation_is_audited_under_the_kinds_event(target):
    key = engine.create(target, NOTE)
    engine.confirm(key, Caller(cid="c" * 24))
    with pytest.raises(engine.KeyExpiredOrUsed):
        engine.confirm(key, Caller())
    rows = list(AuditEvent.objects.filter(event="test.confirm").order_by("id"))
    assert [(r.outcome, r.error_codes) for r in rows] == [("ok", ""), ("error", "E005007")]
    assert rows[0].cid == "c" * 24 and rows[0].target_user_id == "zusrtarget"
    assert key not in str(list(AuditEvent.objects.values()))


def test_forget_deletes_every_key_of_an_object(target):
    engine.create(target, NOTE)
    engine.confirm(engine.create(target, NOTE), Caller())
    engine.forget(target)
    assert not Confirmation.objects.exists()
