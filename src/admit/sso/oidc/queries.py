"""The provider's statements that are written out in SQL: a relying party's two hot paths,
introspection and the refresh grant.

Built by the ORM, the access token with its client, person and session (``select_related``
of three wide tables) cost about 1.2 ms of CPU per introspection, four times what a request
to ``GET /health`` costs in all; the columns introspection answers with, read in one written-
out statement, cost a tenth of that. The refresh grant likewise reads its token, session and
person in one statement, and holds its writes (the rotation, the new tokens) to the end of
the token endpoint's unit of work, which sends them with the audit row as one statement on
PostgreSQL (``admit.sso.oidc.validator``). Both read the client that authenticates them in
one statement too. Table and column names come from the models' metadata; values are
parameters.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.utils import timezone

from admit.core import sql, unit_of_work
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


class PresentedRefreshToken(NamedTuple):
    token: RefreshToken
    # Of its access token (None: the access token is gone, and the refresh token with it).
    access_expires: datetime | None
    scope: str
    session: Session  # with its ``user`` loaded: the token's person


@cache
def _presented_refresh_token_sql() -> str:
    token, access, key = RefreshToken, AccessToken, sql.primary_key
    access_of = sql.column(token, "access_token")
    return (
        f"SELECT {sql.columns(token, 'r')}, a.{sql.column(access, 'expires')},"  # noqa: S608
        f" a.{sql.column(access, 'scope')}, {sql.columns(Session, 's')}, {sql.columns(User, 'u')}"
        f" FROM {sql.table(token)} r"
        f" LEFT JOIN {sql.table(access)} a ON a.{key(access)} = r.{access_of}"
        f" JOIN {sql.table(Session)} s ON s.{key(Session)} = r.{sql.column(token, 'session')}"
        f" JOIN {sql.table(User)} u ON u.{key(User)} = r.{sql.column(token, 'user')}"
        f" WHERE r.{sql.column(token, 'token_checksum')} = %s"
        # A rotated token leaves its revoked row; a live row with the checksum comes first.
        f" ORDER BY r.{sql.column(token, 'revoked')} DESC NULLS FIRST LIMIT 1"
    )


def presented_refresh_token(checksum: str) -> PresentedRefreshToken | None:
    """The refresh token whose checksum is ``checksum`` (live or not), with its access token's
    expiry and scope, its session and its person."""
    row = sql.fetch_one(_presented_refresh_token_sql(), [checksum])
    if row is None:
        return None
    token_end = sql.width(RefreshToken)
    session_end = token_end + 2 + sql.width(Session)
    session = sql.load(Session, row[token_end + 2 : session_end])
    session.user = sql.load(User, row[session_end:])
    expires, scope = row[token_end : token_end + 2]
    return PresentedRefreshToken(
        sql.load(RefreshToken, row[:token_end]),
        sql.load_value(AccessToken, "expires", expires),
        scope or "",
        session,
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
