"""Shared fixtures: the default policy, a clock that can be moved, and an API client that
talks to /zato/sso/ the way the seed's curl examples do."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from admit.config import DEFAULT_TOML, parse_policy
from admit.core.context import Caller
from admit.sso.flows.login import LoginRequest, login
from admit.sso.flows.users import create_superuser

DEFAULT_POLICY = parse_policy(tomllib.loads(DEFAULT_TOML.read_text()))
ADMIN_PASSWORD = "Correct-Horse-Battery-42"
GOOD_PASSWORD = "VrF57-H31 7!HIj%fSAz :L9"


@pytest.fixture(autouse=True)
def empty_cache(request):
    """Log-in pauses live in the (database) cache, which outlives a test's rollback; each
    test with a database starts with none."""
    from django.core.cache import cache

    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        request.getfixturevalue(
            "db" if "transactional_db" not in request.fixturenames else "transactional_db"
        )
        cache.clear()


@pytest.fixture(autouse=True)
def default_policy(settings):
    """Every test starts from the shipped defaults, whatever admit.toml the machine has."""
    settings.ADMIT_POLICY = DEFAULT_POLICY
    settings.ADMIT_BASE_URL = "http://admit.test"
    return settings


@pytest.fixture
def policy(settings):
    """``policy(signup={"approval_required": False})`` changes sections for one test."""

    def change(**sections: dict[str, Any]) -> None:
        current = settings.ADMIT_POLICY
        for name, values in sections.items():
            current = replace(current, **{name: replace(getattr(current, name), **values)})
        settings.ADMIT_POLICY = current

    return change


class ApiClient:
    """Posts JSON with curl's default form content type, as the seed's examples do."""

    def __init__(self) -> None:
        self.client = Client(REMOTE_ADDR="10.23.91.177")

    def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, **extra: Any
    ):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.generic(
            method, path, data, content_type="application/x-www-form-urlencoded", **extra
        )

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.call("POST", path, body, **extra)

    def get(self, path: str, body: Any = None, **extra: Any):
        return self.call("GET", path, body, **extra)


@pytest.fixture
def api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def superuser(db):
    return create_superuser("boss", "boss@example.com", ADMIN_PASSWORD, Caller())


@pytest.fixture
def admin_ust(superuser) -> str:
    return login(LoginRequest("boss", ADMIN_PASSWORD, "CRM"), Caller()).ust


def make_user(api: ApiClient, admin_ust: str, name: str, **changes: Any) -> str:
    """An approved user created by the super-user through POST /zato/sso/user; its user_id."""
    body = {
        "ust": admin_ust,
        "username": name,
        "email": f"{name}@example.com",
        "password": GOOD_PASSWORD,
        "auto_approve": True,
        **changes,
    }
    response = api.post("/zato/sso/user", body)
    assert response.status_code == 200, response.content
    return response.json()["user_id"]


def codes(response) -> list[str]:
    """The ``sub_status`` codes of an API answer."""
    return response.json()["sub_status"]


def refused(response, *expected: str, status: int = 403) -> None:
    """The answer is the error envelope with exactly ``expected`` codes."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["sub_status"] == list(expected)
    assert len(body["cid"]) == 24


def signup_body(**changes: Any) -> dict[str, Any]:
    body = {
        "username": "user1",
        "password": GOOD_PASSWORD,
        "email": "user1@example.com",
        "current_app": "CRM",
        "app_list": ["CRM", "ERP"],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    from django.utils import timezone

    fake = Clock(timezone.now())
    monkeypatch.setattr("admit.core.clock.now", fake)
    return fake
