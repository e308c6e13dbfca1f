"""The reads and writes of the sso app that are written out in SQL: the log-in path's.

Table and column names come from the models' metadata; values are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import NamedTuple

from admit.core import sql, unit_of_work
from admit.core.secrets import digest
from admit.sso.models import AUTOMATIC_LOCK, KnownAddress, Session, User


def address_digest(address: str) -> str:
    return digest(f"known-address:{address}")


@dataclass(frozen=True)
class LoginCandidate:
    user: User | None  # None: no account (or sign-up) has the username
    # When the user last logged in from the caller's address, if since ``known_since``.
    address_last_seen: datetime | None

    @property
    def known_address(self) -> bool:
        return self.address_last_seen is not None


@cache
def _login_candidate_sql() -> str:
    return (
        f"SELECT {sql.columns(User, 'u')}, (SELECT k.last_seen FROM {sql.table(KnownAddress)} k"  # noqa: S608
        " WHERE k.user_id = u.id AND k.address_digest = %s AND k.last_seen >= %s)"
        f" FROM {sql.table(User)} u WHERE u.username_key = %s"
    )


def login_candidate(
    username_key: str, address: str | None, known_since: datetime
) -> LoginCandidate:
    """The user (or held sign-up) with ``username_key``, and whether it logged in from
    ``address`` since ``known_since``: one query, the same for a username nobody has."""
    row = sql.fetch_one(
        _login_candidate_sql(),
        [
            address_digest(address or ""),
            sql.param(KnownAddress, "last_seen", known_since),
            username_key,
        ],
    )
    if row is None or not address:
        return LoginCandidate(sql.load(User, row[:-1]) if row else None, None)
    last_seen = sql.load_value(KnownAddress, "last_seen", row[-1])
    return LoginCandidate(sql.load(User, row[:-1]), last_seen)


@dataclass(frozen=True)
class SignupConflicts:
    username_taken: bool  # by an account or a held sign-up: the unique index's view
    owner: User | None  # the account whose address the sign-up gives, if any


_PK = [field.primary_key for field in sql.concrete_fields(User)].index(True)


@cache
def _signup_conflicts_sql() -> str:
    users = sql.table(User)
    return (
        f"SELECT EXISTS (SELECT 1 FROM {users} WHERE username_key = %s), {sql.columns(User, 'u')}"  # noqa: S608
        f" FROM (SELECT 1 AS one) one LEFT JOIN {users} u"
        " ON u.email_key = %s AND u.email_key <> '' AND NOT u.holds_taken_email"
    )


def signup_conflicts(username_key: str, email_key: str) -> SignupConflicts:
    """Whether the username is taken, and who owns the address: the one read every sign-up
    makes, whatever the rules found and whether or not either is taken, so neither its answer
    nor its time depends on an address having an account."""
    row = sql.fetch_one(_signup_conflicts_sql(), [username_key, email_key])
    assert row is not None  # the LEFT JOIN from one row gives one row
    account = row[1:]
    owner = sql.load(User, account) if account[_PK] is not None else None
    return SignupConflicts(bool(row[0]), owner)


def is_known_address(user: User, address: str | None, known_since: datetime) -> bool:
    if not address:
        return False
    return KnownAddress.objects.filter(
        user=user, address_digest=address_digest(address), last_seen__gte=known_since
    ).exists()


def remember_address_at_commit(user: User, address: str, when: datetime) -> None:
    """Record (or renew) ``address`` as one ``user`` logged in from, with the flow's writes."""
    table = sql.table(KnownAddress)
    unit_of_work.execute_later(
        f"INSERT INTO {table} (user_id, address_digest, last_seen) VALUES (%s, %s, %s)"  # noqa: S608
        " ON CONFLICT (user_id, address_digest) DO UPDATE SET last_seen = excluded.last_seen",
        [user.pk, address_digest(address), sql.param(KnownAddress, "last_seen", when)],
    )


def forget_addresses_older_than(when: datetime) -> int:
    return KnownAddress.objects.filter(last_seen__lt=when).delete()[0]


class LiveRow(NamedTuple):
    expires_at: datetime
    user_id: int
    # The session's user is a super-user who may act now: confirmed, approved, not locked by
    # an operator (``User.is_active``), as ``flows.sessions.superuser_for`` requires.
    is_active_superuser: bool


@cache
def _live_sessions_sql(count: int) -> str:
    return (
        "SELECT s.ust_digest, s.expires_at, s.user_id,"  # noqa: S608
        " (u.is_superuser AND (NOT u.is_locked OR u.locked_by = %s)"
        " AND u.confirmed_at IS NOT NULL"
        f" AND u.approval_status = %s) FROM {sql.table(Session)} s"
        f" JOIN {sql.table(User)} u ON u.id = s.user_id"
        f" WHERE s.ust_digest IN ({', '.join(['%s'] * count)})"
    )


def live_sessions(digests: list[str]) -> dict[str, LiveRow]:
    """The sessions with these digests (one or two: the caller's and the one asked about),
    each with its expiry, user and whether that user is an active super-user: the session
    check's one query, written out because the ORM spent longer building it than the
    database answering."""
    found = sql.fetch_all(
        _live_sessions_sql(len(digests)),
        [AUTOMATIC_LOCK, User.Approval.APPROVED.value, *digests],
    )
    return {
        ust_digest: LiveRow(_aware(expires_at), user_id, bool(superuser))
        for ust_digest, expires_at, user_id, superuser in found
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps UTC bare
