"""Upgrading keeps what relying parties already get: a client made before admit had
``Client.refresh_id_token`` still gets a new ID token from every refresh; a client added
afterwards does not unless it asks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from admit.sso.oidc.models import Client
from tests.oidc.support import make_client

BEFORE = [("oidc", "0001_provider")]
AFTER = [("oidc", "0002_client_refresh_id_token")]


def migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_a_client_made_before_the_upgrade_keeps_its_id_token_on_refresh():
    old_apps = migrate(BEFORE)
    OldClient = old_apps.get_model("oidc", "Client")
    OldClient.objects.create(
        client_id="made-before",
        app="CRM",
        name="CRM",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris="https://crm.example.com/cb",
        client_secret="",
        algorithm="RS256",
    )

    migrate(AFTER)

    assert Client.objects.get(client_id="made-before").refresh_id_token is True
    assert make_client().client.refresh_id_token is False
