"""The hot paths' reads and writes: the same rows as the ORM's, landing with the flow's
transaction, committed when the flow ends and not before."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, Error, IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from admit.audit.log import audited
from admit.audit.models import AuditEvent
from admit.core import clock, rows
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import Counter
from admit.mail.models import OutgoingEmail
from admit.mail.outbox import enqueue
from admit.remote.models import RemoteServer
from admit.sso.models import Session, SessionEvent, User

pytestmark = pytest.mark.django_db

CALLER = Caller(cid="c" * 24, remote_ip="10.0.0.1")


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
    event = AuditEvent.objects.create(created_at=clock.now(), event="x", outcome="ok", cid="c")
    with audited("test.flow", CALLER):
        rows.update_at_commit(event, outcome="error", error_codes="E005001")
        assert event.outcome == "error"
    event.refresh_from_db()
    assert (event.outcome, event.error_codes) == ("error", "E005001")


def test_a_row_held_in_the_batch_can_be_referred_to_by_a_later_one():
    user = User.objects.create(
        user_id="zusr1", username="ann", username_key="ann", sign_up_time=clock.now()
    )
    with audited("test.flow", CALLER):
        session = rows.insert_at_commit(
            Session(ust_digest="d" * 64, user=user, created_at=clock.now(), expires_at=clock.now())
        )
        rows.insert_at_commit(
            SessionEvent(kind="login", at=clock.now()),
            session_id=rows.KeyOf(Session, "ust_digest", session.ust_digest),
        )
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
    found = rows.fetch_one(
        f"SELECT {rows.columns(RemoteServer, 's')} FROM remote_remoteserver s", []
    )
    assert found is not None
    loaded = rows.load(RemoteServer, found)
    assert rows.width(RemoteServer) == len(RemoteServer._meta.concrete_fields)
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
    sql = "SELECT contact_email FROM remote_remoteserver WHERE hostname = %s"
    with CaptureQueriesContext(connection) as queries:
        assert rows.fetch_all(sql, ["h"]) == [(server.contact_email,)]
        assert rows.fetch_one(sql, ["elsewhere"]) is None
    assert len(queries) == 2
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.fetch_one("SELECT nothing FROM no_such_table", [])
    assert rows.fetch_one(sql, ["h"]) is not None  # the connection goes on working


@pytest.mark.postgres
def test_on_postgresql_a_hot_read_is_planned_once_per_connection():
    if connection.vendor != "postgresql":
        pytest.skip("planning a statement once (pg_prepared_statements) needs PostgreSQL")
    sql = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    for _ in range(3):
        assert rows.fetch_one(sql, ["h"]) == (0,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert sql.replace("%s", "$1") in prepared


@pytest.mark.django_db(transaction=True)
def test_hot_reads_go_on_working_on_a_new_connection():
    sql = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    assert rows.fetch_one(sql, ["h"]) == (0,)
    connection.close()  # as Django does with a broken connection at the end of a request
    assert rows.fetch_one(sql, ["h"]) == (0,)
    assert rows.fetch_all(sql, ["h"]) == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_hot_reads_outlive_a_rolled_back_transaction():
    """A refused flow rolls its transaction back; the hot reads prepared before go on."""
    sql = "SELECT count(*) FROM remote_remoteserver WHERE hostname = %s"
    assert rows.fetch_one(sql, ["h"]) == (0,)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert rows.fetch_one(sql, ["h"]) == (0,)  # the read that opens the transaction
        assert rows.fetch_one(sql, ["h"]) == (0,)  # a read inside it
        raise RuntimeError("the flow is refused")
    assert rows.fetch_one(sql, ["h"]) == (0,)
    assert rows.fetch_all(sql, ["elsewhere"]) == [(0,)]


OUTBOX = 'SELECT "to" FROM mail_outgoingemail ORDER BY "to"'
COUNTS = "SELECT count FROM core_ratecount"


def _seen_by_another_worker(sql: str) -> list:
    """The first column of ``sql`` read on a connection of its own: what is committed."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql)
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
        audited("test.records", CALLER, batch_only=True) as audit,
    ):
        rows.records_only()
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
    queries = _record_a_count()
    assert _seen_by_another_worker(COUNTS) == [1]
    assert AuditEvent.objects.get(event="test.records").extra_data == {"step": "recorded"}
    assert len(queries) == 1, queries  # the count and the audit row: one statement,
    prepared = _prepared_statements()  # prepared for the next flow of the same shape
    assert any(statement.startswith("WITH write0 AS (INSERT") for statement in prepared)


@pytest.mark.django_db(transaction=True)
def test_a_flow_of_records_inside_a_larger_transaction_is_undone_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        with audited("test.records", CALLER, batch_only=True):
            rows.records_only()
            Counter("test-bucket", "subject", (10, 60)).count()
        raise RuntimeError("the outer work fails after the flow")
    assert _seen_by_another_worker(COUNTS) == []
    assert not AuditEvent.objects.exists()


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def _two_batch_only_flows() -> list[list[dict]]:
    """Two flows that each queue two e-mails; the queries each ran. Nothing a flow writes is
    seen by another connection before the flow ends, and everything is after."""
    flows = []
    for name in ("a", "b"):
        committed_before = _seen_by_another_worker(OUTBOX)
        with (
            CaptureQueriesContext(connection) as queries,
            audited("test.flow", CALLER, batch_only=True),
        ):
            enqueue("welcome", f"{name}1@example.com", {"user": {"username": name}})
            enqueue("welcome", f"{name}2@example.com", {"user": {"username": name}})
            assert _seen_by_another_worker(OUTBOX) == committed_before  # not before the end
        flows.append(queries.captured_queries)
    assert _seen_by_another_worker(OUTBOX) == [
        "a1@example.com",
        "a2@example.com",
        "b1@example.com",
        "b2@example.com",
    ]
    assert AuditEvent.objects.filter(event="test.flow", outcome="ok").count() == 2
    return flows


@pytest.mark.django_db(transaction=True)
def test_a_batch_only_flow_lands_together_when_it_ends():
    _two_batch_only_flows()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_only_flow_lands_together_on_postgresql_as_one_pipeline():
    if connection.vendor != "postgresql":
        pytest.skip("one pipeline for a batch-only flow needs PostgreSQL")
    flows = _two_batch_only_flows()
    assert [len(queries) for queries in flows] == [1, 1], flows
    last = flows[-1][0]["sql"]
    assert "INSERT" in last and "$1" in last  # the query log shows the statement sent
    inserts = [sql for sql in _prepared_statements() if "mail_outgoingemail" in sql]
    assert len(inserts) == 1  # the same statement twice in the first flow: prepared once


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_undoes_its_whole_batch_and_the_connection_goes_on():
    user = User.objects.create(
        user_id="zusr1", username="ann", username_key="ann", sign_up_time=clock.now()
    )
    prepared_after: list[int] = []
    for attempt in range(3):
        with pytest.raises(IntegrityError), audited("test.flow", CALLER, batch_only=True):
            enqueue("welcome", f"{attempt}@example.com", {"user": {"username": "ann"}})
            rows.insert_at_commit(  # the same user id again: refused by its unique index
                User(
                    user_id=user.user_id,
                    username="bob",
                    username_key="bob",
                    sign_up_time=clock.now(),
                )
            )
        if connection.vendor == "postgresql":
            prepared_after.append(len(_prepared_statements()))
    assert _seen_by_another_worker(OUTBOX) == []
    assert not AuditEvent.objects.filter(event="test.flow").exists()
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]
    # what was prepared before the refusal is kept, not prepared again on every attempt
    assert len(set(prepared_after)) <= 1
    with audited("test.flow", CALLER, batch_only=True):
        enqueue("welcome", "later@example.com", {"user": {"username": "ann"}})
    assert _seen_by_another_worker(OUTBOX) == ["later@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_value_the_driver_cannot_send_fails_its_flow_and_the_connection_goes_on():
    with pytest.raises(Error), audited("test.flow", CALLER, batch_only=True):
        enqueue("welcome", "a@example.com", {"user": {"username": "a"}})
        rows.execute_at_commit(
            "INSERT INTO core_ratecount (subject, slot, count, expires_at) VALUES (%s, %s, 1, %s)",
            ["subject", object(), clock.now()],
        )
    assert _seen_by_another_worker(OUTBOX) == []
    with audited("test.flow", CALLER, batch_only=True):
        enqueue("welcome", "later@example.com", {"user": {"username": "a"}})
    assert _seen_by_another_worker(OUTBOX) == ["later@example.com"]
