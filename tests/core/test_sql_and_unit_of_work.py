"""admit.core.sql and admit.core.unit_of_work: hand-written reads give the rows the ORM
would, held writes land with the flow's transaction, committed when the flow ends and not
before, and a refused flow leaves nothing but its audit row."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, Error, IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from admit.audit.log import audited
from admit.audit.models import AuditEvent
from admit.core import clock, sql, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import Counter
from admit.mail.models import OutgoingEmail
from admit.mail.outbox import enqueue
from admit.remote.models import RemoteServer
from admit.sso.models import Session, SessionEvent, User

pytestmark = pytest.mark.django_db

CALLER = Caller(cid="c" * 24, remote_ip="10.0.0.1")


def test_held_writes_land_together_when_the_flow_succeeds():
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


def test_a_refused_flow_drops_its_held_writes_but_keeps_its_audit_row():
    with pytest.raises(AdmitError), audited("test.flow", CALLER):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        raise AdmitError(Code.NOT_ALLOWED, "refused")
    assert not OutgoingEmail.objects.exists()
    refused = AuditEvent.objects.get(event="test.flow")
    assert (refused.outcome, refused.error_codes) == ("error", "E005001")


def test_outside_a_flow_held_writes_happen_at_once():
    enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
    assert OutgoingEmail.objects.get().to == "a@example.com"


def test_update_later_changes_the_row_and_the_object():
    event = AuditEvent.objects.create(created_at=clock.now(), event="x", outcome="ok", cid="c")
    with audited("test.flow", CALLER):
        unit_of_work.update_later(event, outcome="error", error_codes="E005001")
        assert event.outcome == "error"
    event.refresh_from_db()
    assert (event.outcome, event.error_codes) == ("error", "E005001")


def test_a_held_row_can_be_referred_to_by_a_later_one():
    user = User.objects.create(
        user_id="zusr1", username="ann", username_key="ann", sign_up_time=clock.now()
    )
    with audited("test.flow", CALLER):
        session = unit_of_work.insert_later(
            Session(ust_digest="d" * 64, user=user, created_at=clock.now(), expires_at=clock.now())
        )
        unit_of_work.insert_later(SessionEvent(kind="login", at=clock.now()), session_id=session)
    assert SessionEvent.objects.get().session == Session.objects.get(ust_digest="d" * 64)


def test_load_gives_the_instance_the_orm_would():
    RemoteServer.objects.create(
        uuid=uuid.uuid4(),
        key_digest="k",
        hostname="h",
        contact_email="e@example.com",
        registered_at=clock.now(),
        deactivated=True,
    )
    found = sql.fetch_one(f"SELECT {sql.columns(RemoteServer, 's')} FROM remote_remoteserver s", [])
    assert found is not None
    loaded = sql.load(RemoteServer, found)
    assert sql.width(RemoteServer) == len(RemoteServer._meta.concrete_fields)
    expected = RemoteServer.objects.get()
    for field in RemoteServer._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert (type(loaded.uuid), loaded.deactivated, loaded.registered_at.tzinfo is not None) == (
        uuid.UUID,
        True,
        True,
    )


def test_a_hand_written_read_is_a_query_like_any_other():
    server = RemoteServer.objects.create(
        uuid=uuid.uuid4(),
        key_digest="k",
        hostname="h",
        contact_email="e@example.com",
        registered_at=clock.now(),
    )
    query = "SELECT contact_email FROM remote_remoteserver WHERE hostname = %s"
    with CaptureQueriesContext(connection) as queries:
        assert sql.fetch_all(query, ["h"]) == [(server.contact_email,)]
        assert sql.fetch_one(query, ["elsewhere"]) is None
    assert len(queries) == 2
    with pytest.raises(DatabaseError), transaction.atomic():
        sql.fetch_one("SELECT nothing FROM no_such_table", [])
    assert sql.fetch_one(query, ["h"]) is not None  # the connection goes on working


@pytest.mark.postgres
def test_on_postgresql_a_hot_read_is_planned_once_per_connection():
    if connection.vendor != "postgresql":
        pytest.skip("planning a statement once (pg_prepared_statements) needs PostgreSQL")
    query = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    for _ in range(3):
        assert sql.fetch_one(query, ["h"]) == (0,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert query.replace("%s", "$1") in prepared


@pytest.mark.django_db(transaction=True)
def test_hot_reads_go_on_working_on_a_new_connection():
    query = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    assert sql.fetch_one(query, ["h"]) == (0,)
    connection.close()  # as Django does with a broken connection at the end of a request
    assert sql.fetch_one(query, ["h"]) == (0,)
    assert sql.fetch_all(query, ["h"]) == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_hot_reads_outlive_a_rolled_back_transaction():
    """A refused flow rolls its transaction back; the hot reads prepared before go on."""
    query = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    assert sql.fetch_one(query, ["h"]) == (0,)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert sql.fetch_one(query, ["h"]) == (0,)  # the read that opens the transaction
        assert sql.fetch_one(query, ["h"]) == (0,)  # a read inside it
        raise RuntimeError("the flow is refused")
    assert sql.fetch_one(query, ["h"]) == (0,)
    assert sql.fetch_all(query, ["elsewhere"]) == [(0,)]


OUTBOX = 'SELECT "to" FROM mail_outgoingemail ORDER BY "to"'
COUNTS = "SELECT count FROM core_ratecount"


def _seen_by_another_worker(query: str) -> list:
    """The first column of ``query`` read on a connection of its own: what is committed."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(query)
            return [value for (value, *_) in cursor.fetchall()]
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_flow_is_committed_when_it_ends():
    with audited("test.flow", CALLER):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        assert _seen_by_another_worker(OUTBOX) == []
    assert not connection.in_atomic_block
    assert _seen_by_another_worker(OUTBOX) == ["a@example.com"]
    with audited("test.flow", CALLER):  # the connection goes on working after the commit
        enqueue("welcome", "b@example.com", {"user": {"username": "b"}})
    assert _seen_by_another_worker(OUTBOX) == ["a@example.com", "b@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_flow_inside_a_larger_transaction_is_undone_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        with audited("test.flow", CALLER):
            enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        raise RuntimeError("the outer work fails after the flow")
    assert _seen_by_another_worker(OUTBOX) == []
    assert not AuditEvent.objects.exists()


def _record_a_count() -> list[dict]:
    """A flow of records only: a rate-limit count and its audit row; the queries it ran."""
    with (
        CaptureQueriesContext(connection) as queries,
        audited("test.records", CALLER, deferred=True) as audit,
    ):
        unit_of_work.records_only()
        Counter("test-bucket", "subject", (10, 60)).count()
        audit.extra_data["step"] = "recorded"
    return queries.captured_queries


@pytest.mark.django_db(transaction=True)
def test_a_flow_of_records_commits_its_count_and_its_audit_row():
    _record_a_count()
    assert _seen_by_another_worker(COUNTS) == [1]
    assert AuditEvent.objects.get(event="test.records").extra_data == {"step": "recorded"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_flow_of_records_lands_as_one_prepared_statement_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("one prepared statement for a flow of records needs PostgreSQL")
    first, second = _record_a_count(), _record_a_count()
    assert _seen_by_another_worker(COUNTS) == [2]
    assert AuditEvent.objects.filter(event="test.records").count() == 2
    assert len(first) == len(second) == 1, first  # the count and the audit row: one statement,
    prepared = _prepared_statements()  # prepared from its second use on
    assert any(statement.startswith("WITH write0 AS (INSERT") for statement in prepared)


@pytest.mark.django_db(transaction=True)
def test_a_flow_of_records_inside_a_larger_transaction_is_undone_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        with audited("test.records", CALLER, deferred=True):
            unit_of_work.records_only()
            Counter("test-bucket", "subject", (10, 60)).count()
        raise RuntimeError("the outer work fails after the flow")
    assert _seen_by_another_worker(COUNTS) == []
    assert not AuditEvent.objects.exists()


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def _two_deferred_flows() -> None:
    """Two flows that each queue two e-mails. Nothing a flow writes is seen by another
    connection before the flow ends, and everything is after."""
    for name in ("a", "b"):
        committed_before = _seen_by_another_worker(OUTBOX)
        with audited("test.flow", CALLER, deferred=True):
            enqueue("welcome", f"{name}1@example.com", {"user": {"username": name}})
            enqueue("welcome", f"{name}2@example.com", {"user": {"username": name}})
            assert _seen_by_another_worker(OUTBOX) == committed_before  # not before the end
    assert _seen_by_another_worker(OUTBOX) == [
        "a1@example.com",
        "a2@example.com",
        "b1@example.com",
        "b2@example.com",
    ]
    assert AuditEvent.objects.filter(event="test.flow", outcome="ok").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_deferred_flow_lands_together_when_it_ends():
    _two_deferred_flows()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_deferred_flows_writes_are_prepared_from_their_second_use():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements (pg_prepared_statements) need PostgreSQL")
    _two_deferred_flows()
    inserts = [text for text in _prepared_statements() if "mail_outgoingemail" in text]
    assert len(inserts) == 1 and "$1" in inserts[0]  # four uses, prepared once


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_undoes_its_whole_batch_and_the_connection_goes_on():
    user = User.objects.create(
        user_id="zusr1", username="ann", username_key="ann", sign_up_time=clock.now()
    )
    for attempt in range(3):
        with pytest.raises(IntegrityError), audited("test.flow", CALLER, deferred=True):
            enqueue("welcome", f"{attempt}@example.com", {"user": {"username": "ann"}})
            unit_of_work.insert_later(  # the same user id again: refused by its unique index
                User(
                    user_id=user.user_id,
                    username="bob",
                    username_key="bob",
                    sign_up_time=clock.now(),
                )
            )
    assert _seen_by_another_worker(OUTBOX) == []
    assert not AuditEvent.objects.filter(event="test.flow").exists()
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]
    with audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "later@example.com", {"user": {"username": "ann"}})
    assert _seen_by_another_worker(OUTBOX) == ["later@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_value_the_driver_cannot_send_fails_its_flow_and_the_connection_goes_on():
    with pytest.raises(Error), audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        unit_of_work.execute_later(
            "INSERT INTO core_ratecount (subject, slot, count, expires_at) VALUES (%s, %s, 1, %s)",
            ["subject", object(), clock.now()],
        )
    assert _seen_by_another_worker(OUTBOX) == []
    with audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "later@example.com", {"user": {"username": "a"}})
    assert _seen_by_another_worker(OUTBOX) == ["later@example.com"]


def _take(event: AuditEvent, must_change: bool = True) -> None:
    """A conditional take: marks ``event`` as an error unless it is one already."""
    unit_of_work.execute_later(
        "UPDATE audit_auditevent SET outcome = 'error' WHERE id = %s AND outcome = 'ok'",
        [event.pk],
        must_change=must_change,
    )


@pytest.mark.django_db(transaction=True)
def test_a_write_that_must_change_a_row_lets_its_batch_land_when_it_does():
    taken = AuditEvent.objects.create(created_at=clock.now(), event="x", outcome="ok", cid="c")
    with audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        _take(taken)
    assert _seen_by_another_worker(OUTBOX) == ["a@example.com"]
    assert AuditEvent.objects.get(pk=taken.pk).outcome == "error"
    assert AuditEvent.objects.filter(event="test.flow").exists()


@pytest.mark.django_db(transaction=True)
def test_a_write_that_must_change_a_row_and_changes_none_undoes_its_whole_batch():
    """Taken already (by another flow, between this flow's read and its writes): nothing of
    this flow is written, whatever came before or after the take in the batch; on PostgreSQL
    the batch is one statement, elsewhere one transaction."""
    taken = AuditEvent.objects.create(created_at=clock.now(), event="x", outcome="error", cid="c")
    with pytest.raises(unit_of_work.GuardFailed), audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "before@example.com", {"user": {"username": "a"}})
        _take(taken)
        enqueue("welcome", "after@example.com", {"user": {"username": "a"}})
    assert _seen_by_another_worker(OUTBOX) == []
    assert not AuditEvent.objects.filter(event="test.flow").exists()
    # The connection goes on; a write that may change nothing does not hold its batch back.
    with audited("test.flow", CALLER, deferred=True):
        enqueue("welcome", "later@example.com", {"user": {"username": "a"}})
        _take(taken, must_change=False)
    assert _seen_by_another_worker(OUTBOX) == ["later@example.com"]


def test_outside_a_flow_a_write_that_must_change_a_row_and_changes_none_raises():
    taken = AuditEvent.objects.create(created_at=clock.now(), event="x", outcome="error", cid="c")
    with pytest.raises(unit_of_work.GuardFailed):
        _take(taken)
