"""The OpenID Connect tests' fixtures: a person, a browser, and the signing keys in a folder of
the test run's own (test_keys.py gives each of its tests a folder of its own)."""

from __future__ import annotations

import pytest
from django.test import Client as Browser

from admit.sso.models import User
from tests.oidc.support import make_person


@pytest.fixture(scope="session")
def shared_key_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("oidc-keys")


@pytest.fixture(autouse=True)
def key_folder(settings, shared_key_folder):
    settings.ADMIT_DATA_DIR = shared_key_folder
    return shared_key_folder


@pytest.fixture
def alice(admin_ust) -> User:
    return make_person(admin_ust)


@pytest.fixture
def browser() -> Browser:
    return Browser()
