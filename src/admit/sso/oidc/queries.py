"""The provider's statements that are written out in SQL: a relying party's two hot paths,
introspection and the refresh grant.

Built by the ORM, the access token with its client, person and session (``select_related``
of three wide tables) cost about 1.2 ms of CPU per introspection, four times what a request
to ``GET /health`` costs in all; the columns introspection answers with, read in one written-
out statement, cost a tenth of that. The refresh grant reads its client, the client's rate
count and its token with the token's session and person in one statement (``refresh_grant``),
and holds its writes (the rotation, the new tokens) to the end of the token endpoint's unit of
work, which sends them with the count and the audit row as one statement on PostgreSQL
(``admit.sso.oidc.validator``). Introspection reads the client that authenticates it in one
statement too. Table and column names come from the models' metadata; values are
parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.utils import timezone

from admit.core import ratelimit, sql, unit_of_work
from admit.sso.models import Session, User
from admit.sso.oidc import issuing
from admit.sso.oidc.models import AccessToken, Client, IDToken, RefreshToken


class LiveAccessToken(NamedTuple):
    scope: str
    client_id: str
    username: str
    user_id: str
    expires: datetime
    created: datetime


@cache
def _live_access_token_sql() -> str:
    token, key = AccessToken, sql.primary_key
    return (
        f"SELECT t.{sql.column(token, 'scope')}, c.{sql.column(Client, 'client_id')},"  # noqa: S608
        f" u.{sql.column(User, 'username')}, u.{sql.column(User, 'user_id')},"
        f" t.{sql.column(token, 'expires')}, t.{sql.column(token, 'created')}"
        f" FROM {sql.table(token)} t"
        f" JOIN {sql.table(Client)} c ON c.{key(Client)} = t.{sql.column(token, 'application')}"
        f" JOIN {sql.table(User)} u ON u.{key(User)} = t.{sql.column(token, 'user')}"
        f" JOIN {sql.table(Session)} s ON s.{key(Session)} = t.{sql.column(token, 'session')}"
        f" WHERE t.{sql.column(token, 'token_checksum')} = %s"
        f" AND t.{sql.column(token, 'expires')} > %s AND s.{sql.column(Session, 'expires_at')} > %s"
    )


def live_access_token(checksum: str) -> LiveAccessToken | None:
    """The access token whose checksum is ``checksum`` if it is live, None otherwise: what
    ``AccessToken.is_valid`` says, in SQL. Unexpired by django-oauth-toolkit's clock (Django's
    ``timezone.now``, which set its expiry), its admit session by admit's (``issuing.now``),
    as ``is_valid`` reckons them."""
    token_now, session_now = timezone.now(), issuing.now()
    row = sql.fetch_one(
        _live_access_token_sql(),
        [
            checksum,
            sql.param(AccessToken, "expires", token_now),
            sql.param(Session, "expires_at", session_now),
        ],
    )
    if row is None:
        return None
    scope, client_id, username, user_id, expires, created = row
    return LiveAccessToken(
        scope,
        client_id,
        username,
        user_id,
        sql.load_value(AccessToken, "expires", expires),
        sql.load_value(AccessToken, "created", created),
    )


@cache
def _client_sql() -> str:
    where = f"{sql.column(Client, 'client_id')} = %s"
    return f"SELECT {sql.columns(Client, 'c')} FROM {sql.table(Client)} c WHERE c.{where}"  # noqa: S608


def client(client_id: str) -> Client | None:
    """The client whose id is ``client_id``: what a confidential client's every token and
    introspection request reads first."""
    row = sql.fetch_one(_client_sql(), [client_id])
    return None if row is None else sql.load(Client, row)


# What a refresh grant needs of the token's person: whether they may still sign in
# (``User.is_active``) and the claims of the new ID token; not their password's digest, nor
# their TOTP secret. A field left out would be read by a query of its own when used
# (tests/oidc/test_refresh.py counts the statements).
REFRESHING_PERSON = (
    "id",
    "user_id",
    "username",
    "email",
    "email_key",
    "email_confirmed_key",  # with ``email_key`` and ``confirmed_at``: ``email_verified``
    "display_name",
    "first_name",
    "last_name",
    "confirmed_at",
    "approval_status",
    "is_locked",
    "locked_by",  # with ``is_locked``: whether a super-user locked them (``User.is_active``)
)


class PresentedRefreshToken(NamedTuple):
    token: RefreshToken
    # Of its access token (None: the access token is gone, and the refresh token with it).
    access_expires: datetime | None
    scope: str
    session: Session  # with its ``user`` loaded: the token's person


def _presented_columns() -> str:
    return (
        f"{sql.columns(RefreshToken, 'r')}, a.{sql.column(AccessToken, 'expires')},"
        f" a.{sql.column(AccessToken, 'scope')}, {sql.columns(Session, 's')},"
        f" {sql.columns(User, 'u', REFRESHING_PERSON)}"
    )


def _presented_tables() -> str:
    """The refresh token with its access token, session and person, joined."""
    token, access, key = RefreshToken, AccessToken, sql.primary_key
    access_of = sql.column(token, "access_token")
    return (
        f"{sql.table(token)} r"
        f" LEFT JOIN {sql.table(access)} a ON a.{key(access)} = r.{access_of}"
        f" JOIN {sql.table(Session)} s ON s.{key(Session)} = r.{sql.column(token, 'session')}"
        f" JOIN {sql.table(User)} u ON u.{key(User)} = r.{sql.column(token, 'user')}"
    )


def _live_first() -> str:
    # A rotated token leaves its revoked row; a live row with the checksum comes first.
    return f" ORDER BY r.{sql.column(RefreshToken, 'revoked')} DESC NULLS FIRST LIMIT 1"


@cache
def _presented_refresh_token_sql() -> str:
    checksum = sql.column(RefreshToken, "token_checksum")
    return (
        f"SELECT {_presented_columns()} FROM {_presented_tables()}"  # noqa: S608
        f" WHERE r.{checksum} = %s{_live_first()}"
    )


def presented_refresh_token(checksum: str) -> PresentedRefreshToken | None:
    """The refresh token whose checksum is ``checksum`` (live or not), with its access token's
    expiry and scope, its session and its person (``REFRESHING_PERSON``)."""
    row = sql.fetch_one(_presented_refresh_token_sql(), [checksum])
    return None if row is None else _presented(row)


def _presented(row: Sequence[Any]) -> PresentedRefreshToken | None:
    """A row of ``_presented_columns``; None if they are all NULL (an outer join found none)."""
    token_end = sql.width(RefreshToken)
    if row[0] is None:  # the refresh token's first column, its primary key
        return None
    session_end = token_end + 2 + sql.width(Session)
    session = sql.load(Session, row[token_end + 2 : session_end])
    session.user = sql.load(User, row[session_end:], REFRESHING_PERSON)
    expires, scope = row[token_end : token_end + 2]
    return PresentedRefreshToken(
        sql.load(RefreshToken, row[:token_end]),
        sql.load_value(AccessToken, "expires", expires),
        scope or "",
        session,
    )


class RefreshGrantRead(NamedTuple):
    """What the token endpoint reads of a refresh grant before oauthlib looks at it, in one
    round trip (``refresh_grant``)."""

    client: Client
    counted: int | None  # the client's token requests in the rate window (``Counter.column``)
    checksum: str  # of the refresh token presented
    presented: PresentedRefreshToken | None


@cache
def _refresh_grant_sql(counted: str) -> str:
    client_id = sql.column(Client, "client_id")
    checksum = sql.column(RefreshToken, "token_checksum")
    return (
        f"SELECT {sql.columns(Client, 'c')}, {counted}, {_presented_columns()}"  # noqa: S608
        f" FROM {sql.table(Client)} c LEFT JOIN ({_presented_tables()}) ON r.{checksum} = %s"
        f" WHERE c.{client_id} = %s{_live_first()}"
    )


def refresh_grant(
    client_id: str, checksum: str, counter: ratelimit.Counter
) -> RefreshGrantRead | None:
    """The client named ``client_id``, its count under ``counter``, and the refresh token whose
    checksum is ``checksum`` as ``presented_refresh_token`` reads it (whichever client it
    belongs to: the validator compares); None if there is no such client."""
    counted, counted_params = counter.column()
    row = sql.fetch_one(_refresh_grant_sql(counted), [*counted_params, checksum, client_id])
    if row is None:
        return None
    client_end = sql.width(Client)
    return RefreshGrantRead(
        sql.load(Client, row[:client_end]),
        row[client_end],
        checksum,
        _presented(row[client_end + 1 :]),
    )


def take_refresh_token(token: RefreshToken, now: datetime) -> None:
    """Holds, until the token endpoint's writes are sent (``admit.core.unit_of_work``), the
    revocation of ``token`` and the deletion of its access token, as django-oauth-toolkit's
    ``RefreshToken.revoke`` does them, if nobody took it first: of two refreshes with one token
    at once, the conditional update lets one through, and the other writes nothing
    (``GuardFailed``)."""
    revoked = sql.param(RefreshToken, "revoked", now)
    updated = sql.param(RefreshToken, "updated", now)
    unit_of_work.execute_later(
        f"UPDATE {sql.table(RefreshToken)} SET {sql.column(RefreshToken, 'revoked')} = %s,"  # noqa: S608
        f" {sql.column(RefreshToken, 'updated')} = %s,"
        f" {sql.column(RefreshToken, 'access_token')} = NULL"
        f" WHERE {sql.primary_key(RefreshToken)} = %s"
        f" AND {sql.column(RefreshToken, 'revoked')} IS NULL",
        [revoked, updated, token.pk],
        must_change=True,
    )
    if token.access_token_id is not None:
        # Nothing else refers to an access token: the refresh token's reference is cleared above.
        unit_of_work.execute_later(
            f"DELETE FROM {sql.table(AccessToken)} WHERE {sql.primary_key(AccessToken)} = %s",  # noqa: S608
            [token.access_token_id],
        )


def issue_pair(
    access_token: AccessToken, refresh_token: RefreshToken, id_token: IDToken | None
) -> None:
    """Holds the inserts of a new access token, which refers to the ID token issued with it
    (if one was), and of the refresh token that goes with it. The database fills in the
    references as the rows are written."""
    if id_token is None:
        unit_of_work.insert_later(access_token)
    else:
        unit_of_work.insert_later(access_token, id_token_id=id_token)
    unit_of_work.insert_later(refresh_token, access_token_id=access_token)
