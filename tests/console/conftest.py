"""The console's fixtures: a browser-like client whose web session holds a super-user's
``ust`` (as /login/ leaves it), and helpers that make sign-ups through the flows."""

from __future__ import annotations

import pytest
from django.test import Client

from admit.core.context import Caller
from admit.sso.flows import LoginRequest, NewUser, confirm_signup, create_user, login, signup
from admit.sso.models import User
from admit.sso.rules import SignupRequest
from tests.conftest import GOOD_PASSWORD


def web_client(ust: str | None) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.10")
    if ust is not None:
        session = client.session
        session["admit_ust"] = ust
        session.save()
    return client


@pytest.fixture
def console(admin_ust) -> Client:
    return web_client(admin_ust)


def sign_up(
    name: str, confirm: bool = True, app: str = "CRM", apps: tuple[str, ...] = ("CRM",)
) -> str:
    result = signup(
        SignupRequest(
            username=name,
            password=GOOD_PASSWORD,
            email=f"{name}@example.com",
            current_app=app,
            app_list=list(apps),
            remote_addr="203.0.113.7, 10.0.0.1",
        ),
        Caller(remote_ip="198.51.100.4"),
    )
    if confirm:
        assert result.confirm_token
        confirm_signup(result.confirm_token, Caller())
    return User.objects.get(username=name).user_id


def make_user(admin_ust: str, name: str) -> str:
    new = NewUser(name, f"{name}@example.com", GOOD_PASSWORD, auto_approve=True)
    return create_user(admin_ust, new, Caller()).user_id


def log_in(name: str, app: str = "CRM") -> str:
    return login(LoginRequest(name, GOOD_PASSWORD, app), Caller()).ust
