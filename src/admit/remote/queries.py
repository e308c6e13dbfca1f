"""The reads of the remote wing written out in SQL: the link request's and the confirm-login
page's, each one query where the ORM's would cost more CPU than the rest of the request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache

from admit.core import sql
from admit.core.ratelimit import NOT_READ, Counter, NotRead
from admit.remote import tokens
from admit.remote.models import RemoteRealm, RemoteRealmUser, RemoteServer, SpentLoginToken


@dataclass(frozen=True)
class ServerAndRealm:
    server: RemoteServer | None
    realm: RemoteRealm | None
    counted: int | None | NotRead = NOT_READ  # the rate counter's count, when one was asked for


@cache
def _server_and_realm_sql(counted: str) -> str:
    return (
        f"SELECT {sql.columns(RemoteServer, 's')}, {sql.columns(RemoteRealm, 'r')}, {counted}"  # noqa: S608
        f" FROM {sql.table(RemoteServer)} s LEFT JOIN {sql.table(RemoteRealm)} r ON r.uuid = %s"
        " WHERE s.uuid = %s"
    )


def server_and_realm(
    server_uuid: uuid.UUID, realm_uuid: uuid.UUID | None, counter: Counter | None = None
) -> ServerAndRealm:
    """The server with ``server_uuid``, the realm with ``realm_uuid`` (whichever server it
    belongs to) and ``counter``'s count, in one query."""
    counted, counted_params = counter.column() if counter else ("NULL", [])
    row = sql.fetch_one(
        _server_and_realm_sql(counted),
        [
            *counted_params,
            sql.param(RemoteRealm, "uuid", realm_uuid),
            sql.param(RemoteServer, "uuid", server_uuid),
        ],
    )
    if row is None:
        return ServerAndRealm(None, None)
    server_end = sql.width(RemoteServer)
    realm_end = server_end + sql.width(RemoteRealm)
    server = sql.load(RemoteServer, row[:server_end])
    realm = (
        sql.load(RemoteRealm, row[server_end:realm_end]) if row[server_end] is not None else None
    )
    return ServerAndRealm(server, realm, row[realm_end] if counter else NOT_READ)


def still_let_in(found: ServerAndRealm, counter: Counter | None) -> sql.Statement:
    """A condition that holds while ``found``'s server, its key and its realm are as they were
    (both active, the realm the server's own and still reported by it) and ``counter``'s count
    is under its limit."""
    assert found.server is not None and found.realm is not None
    condition = (
        f"EXISTS (SELECT 1 FROM {sql.table(RemoteServer)} s"  # noqa: S608
        f" JOIN {sql.table(RemoteRealm)} r ON r.server_id = s.id"
        " WHERE s.id = %s AND s.key_digest = %s AND NOT s.deactivated"
        " AND r.id = %s AND NOT r.deactivated AND NOT r.locally_deleted)"
    )
    params: list[object] = [found.server.pk, found.server.key_digest, found.realm.pk]
    if counter is not None and counter.in_database:
        counted, counted_params = counter.column()
        condition += f" AND coalesce({counted}, 0) < %s"
        params += [*counted_params, counter.limit[0]]
    return condition, params


@dataclass(frozen=True)
class RealmUserLink:
    account: RemoteRealmUser
    link_spent: bool
    registration_inactive: bool  # the realm's or the server's, or the realm is another's


@cache
def _realm_user_link_sql() -> str:
    return (
        f"SELECT {sql.columns(RemoteRealmUser, 'u')},"  # noqa: S608
        f" EXISTS (SELECT 1 FROM {sql.table(SpentLoginToken)} WHERE nonce = %s),"
        " r.deactivated OR s.deactivated OR s.uuid <> %s"
        f" FROM {sql.table(RemoteRealmUser)} u"
        f" JOIN {sql.table(RemoteRealm)} r ON r.id = u.realm_id"
        f" JOIN {sql.table(RemoteServer)} s ON s.id = r.server_id"
        " WHERE r.uuid = %s AND u.user_uuid = %s"
    )


def realm_user_of_link(identity: tokens.Identity) -> RealmUserLink | None:
    """The known realm user a realm's link names, whether the link is spent, and whether its
    registration is inactive: one query for the common case of the confirm-login page."""
    if not (identity.realm_uuid and identity.user_uuid):
        return None
    row = sql.fetch_one(
        _realm_user_link_sql(),
        [
            identity.nonce,
            sql.param(RemoteServer, "uuid", identity.server_uuid),
            sql.param(RemoteRealm, "uuid", identity.realm_uuid),
            sql.param(RemoteRealmUser, "user_uuid", identity.user_uuid),
        ],
    )
    if row is None:
        return None
    *account, link_spent, registration_inactive = row
    return RealmUserLink(
        sql.load(RemoteRealmUser, account), bool(link_spent), bool(registration_inactive)
    )
