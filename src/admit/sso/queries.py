"""The reads and writes of the sso app that are written out in SQL: the log-in path's.

Table and column names come from the models' metadata; values are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection

from admit.core import rows
from admit.core.secrets import digest
from admit.sso.models import KnownAddress, User


def address_digest(address: str) -> str:
    return digest(f"known-address:{address}")


@dataclass(frozen=True)
class LoginCandidate:
    user: User | None  # None: no account (or sign-up) has the username
    known_address: bool  # the user has logged in from the caller's address lately


@cache
def _candidate_sql(vendor: str) -> str:
    user, known = User._meta.db_table, KnownAddress._meta.db_table
    return (
        f"SELECT {rows.columns(User, 'u')}, k.id"  # noqa: S608
        f" FROM (SELECT 1) AS one LEFT JOIN {user} u ON u.username_key = %s"
        f" LEFT JOIN {known} k ON k.user_id = u.id AND k.address_digest = %s"
        " AND k.last_seen >= %s"
    )


def login_candidate(
    username_key: str, address: str | None, known_since: datetime
) -> LoginCandidate:
    """The user (or held sign-up) with ``username_key``, and whether it logged in from
    ``address`` since ``known_since``: one query, the same for a username nobody has."""
    row = rows.fetch_one(
        _candidate_sql(connection.vendor),
        [
            username_key,
            address_digest(address or ""),
            rows.param(KnownAddress, "last_seen", known_since),
        ],
    )
    assert row is not None  # the join starts from a one-row table
    width = rows.width(User)
    user = rows.load(User, row[:width]) if row[0] is not None else None
    return LoginCandidate(user, known_address=bool(address) and row[width] is not None)


def is_known_address(user: User, address: str | None, known_since: datetime) -> bool:
    if not address:
        return False
    return KnownAddress.objects.filter(
        user=user, address_digest=address_digest(address), last_seen__gte=known_since
    ).exists()


def remember_address_at_commit(user: User, address: str, when: datetime) -> None:
    """Record (or renew) ``address`` as one ``user`` logged in from, with the flow's writes."""
    table = KnownAddress._meta.db_table
    rows.execute_at_commit(
        f"INSERT INTO {table} (user_id, address_digest, last_seen) VALUES (%s, %s, %s)"  # noqa: S608
        " ON CONFLICT (user_id, address_digest) DO UPDATE SET last_seen = excluded.last_seen",
        [user.pk, address_digest(address), rows.param(KnownAddress, "last_seen", when)],
    )


def forget_addresses_older_than(when: datetime) -> int:
    return KnownAddress.objects.filter(last_seen__lt=when).delete()[0]
