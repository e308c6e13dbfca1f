"""A server asking again for the same realm: one round trip, and nothing it was let in on
before outlives a change (PostgreSQL, where the reuse is guarded)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admit.core.context import Caller
from admit.remote.flows.registry import rotate_key, set_deactivated
from admit.remote.models import RemoteRealm
from tests.remote.conftest import Server, audit_rows, request_link

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="guarded reuse needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),  # as in the service: no transaction around a request
]


def outcomes() -> list[str]:
    return list(audit_rows("remote.login_link").values_list("outcome", flat=True))


def test_once_the_realm_is_registered_a_link_is_one_round_trip(client, server):
    assert request_link(client, server).status_code == 200  # registers the realm
    assert request_link(client, server).status_code == 200  # finds it
    with CaptureQueriesContext(connection) as queries:
        assert request_link(client, server).status_code == 200
    assert len(queries) == 1, [query["sql"] for query in queries]
    assert outcomes() == ["ok", "ok", "ok"]


def test_a_rotated_key_shuts_the_old_one_out_at_once(client, server):
    assert request_link(client, server).status_code == 200
    new_key = rotate_key(server.uuid, Caller()).key
    assert request_link(client, server).status_code == 401
    assert request_link(client, Server(server.uuid, new_key)).status_code == 200
    assert outcomes() == ["ok", "error", "ok"]


def test_a_deactivated_server_or_realm_is_refused_at_once(client, server):
    assert request_link(client, server).status_code == 200
    set_deactivated(server.uuid, True, Caller())
    assert request_link(client, server).status_code == 401
    set_deactivated(server.uuid, False, Caller())
    assert request_link(client, server).status_code == 200
    RemoteRealm.objects.update(deactivated=True)
    assert request_link(client, server).status_code == 403
    assert outcomes() == ["ok", "error", "ok", "error"]


def test_the_rate_limit_holds_exactly(client, server, policy):
    policy(remote={"link_requests_per_server": (3, 60)})
    statuses = [request_link(client, server).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert outcomes() == ["ok", "ok", "ok", "error", "error"]
