"""Upgrading keeps what relying parties already get: a client made before admit had
``Client.refresh_id_token`` still gets a new ID token from every refresh; a client added
afterwards does not unless it asks. A person whose sign-up was confirmed before admit had
``User.email_confirmed_key`` still has ``email_verified: true`` for the address they had."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from admit.confirmations.models import Confirmation
from admit.sso.models import User
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


# ``email_verified`` (tests/oidc/test_email_verified.py): upgrading keeps its answer.
BEFORE_PROOF = [("sso", "0006_user_return_to"), ("confirmations", "0001_initial")]
AFTER_PROOF = [
    ("sso", "0007_user_email_confirmed_key"),
    ("confirmations", "0002_confirmation_proves_email_key"),
]


def old_user(apps, name: str, confirmed: bool, **fields):
    now = timezone.now()
    return apps.get_model("sso", "User").objects.create(
        user_id=f"zusr{name}",
        username=name,
        username_key=name,
        email=f"{name}@example.com",
        email_key=f"{name}@example.com",
        sign_up_time=now,
        confirmed_at=now if confirmed else None,
        **fields,
    )


def old_confirmation(apps, user, kind: str):
    now = timezone.now()
    return apps.get_model("confirmations", "Confirmation").objects.create(
        key_digest=f"{kind}-{user.pk}",
        kind=kind,
        object_type="sso.user",
        object_id=str(user.pk),
        created_at=now,
        expires_at=now + timedelta(days=1),
    )


@pytest.mark.django_db(transaction=True)
def test_people_confirmed_before_the_upgrade_keep_a_verified_address():
    old_apps = migrate(BEFORE_PROOF)
    old_user(old_apps, "confirmed", confirmed=True)
    waiting = old_user(old_apps, "waiting", confirmed=False)
    signup_link = old_confirmation(old_apps, waiting, "signup")
    moving = old_user(old_apps, "moving", confirmed=True, pending_email="New.Home@Example.com")
    change_link = old_confirmation(old_apps, moving, "email_change")

    migrate(AFTER_PROOF)

    confirmed, waiting = (
        User.objects.get(username="confirmed"),
        User.objects.get(username="waiting"),
    )
    assert confirmed.email_confirmed_key == "confirmed@example.com"
    assert confirmed.email_verified is True
    assert waiting.email_verified is False
    # The links still waiting prove the addresses they went to, as confirming them did before.
    assert Confirmation.objects.get(pk=signup_link.pk).proves_email_key == "waiting@example.com"
    assert Confirmation.objects.get(pk=change_link.pk).proves_email_key == "new.home@example.com"

    # Reversible: down and up again.
    migrate(BEFORE_PROOF)
    migrate(AFTER_PROOF)
    assert User.objects.get(username="confirmed").email_verified is True
