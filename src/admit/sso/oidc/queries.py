"""The provider's statements that are written out in SQL: a relying party's two hot paths,
introspection and the refresh grant.

Built by the ORM, the access token with its client, person and session (``select_related``
of three wide tables) cost about 1.2 ms of CPU per introspection, four times what a request
to ``GET /health`` costs in all; the columns introspection answers with, read in one written-
out statement, cost a tenth of that. The refresh grant likewise reads its token, session and
person in one statement and rotates the token in four (``admit.sso.oidc.validator``). Table
and column names come from the models' metadata; values are parameters.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.utils import timezone

from admit.core import sql
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


def take_refresh_token(token: RefreshToken, now: datetime) -> bool:
    """Revokes ``token`` and deletes its access token, as django-oauth-toolkit's
    ``RefreshToken.revoke`` does, if nobody took it first: of two refreshes with one token at
    once, the conditional update lets one through. False if it was taken already."""
    revoked = sql.param(RefreshToken, "revoked", now)
    updated = sql.param(RefreshToken, "updated", now)
    taken = sql.execute(
        f"UPDATE {sql.table(RefreshToken)} SET {sql.column(RefreshToken, 'revoked')} = %s,"  # noqa: S608
        f" {sql.column(RefreshToken, 'updated')} = %s,"
        f" {sql.column(RefreshToken, 'access_token')} = NULL"
        f" WHERE {sql.primary_key(RefreshToken)} = %s"
        f" AND {sql.column(RefreshToken, 'revoked')} IS NULL",
        [revoked, updated, token.pk],
    )
    if taken and token.access_token_id is not None:
        # Nothing else refers to an access token: the refresh token's reference is cleared above.
        sql.execute(
            f"DELETE FROM {sql.table(AccessToken)} WHERE {sql.primary_key(AccessToken)} = %s",  # noqa: S608
            [token.access_token_id],
        )
    return bool(taken)


def insert_id_token(row: IDToken) -> None:
    """An ID token's row, as the code exchange and the refresh grant write it."""
    sql.execute(*sql.insert(row))


def issue_pair(
    access_token: AccessToken, refresh_token: RefreshToken, id_token_jti: uuid.UUID | str | None
) -> None:
    """Inserts a new access token, which refers to the ID token issued with it (if one was),
    and the refresh token that goes with it. The database fills in the references."""
    references = {}
    if id_token_jti is not None:
        references["id_token_id"] = sql.KeyOf(IDToken, "jti", id_token_jti).fragment()
    sql.execute(*sql.insert(access_token, references))
    issued = sql.KeyOf(AccessToken, "token_checksum", access_token.token_checksum)
    sql.execute(*sql.insert(refresh_token, {"access_token_id": issued.fragment()}))
