"""A sign-up for an address that has an account, with ``inform_if_email_exists`` off (the
default), answers exactly like a sign-up for a fresh address: the sign-up, and every call that
can follow it, answer alike, and the same rows are written."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admit.core.models import RateCount
from admit.mail.models import OutgoingEmail
from admit.sso.flows.users import NewUser, _insert
from admit.sso.models import User
from admit.worker import sweep
from tests.conftest import GOOD_PASSWORD, ApiClient, refused, signup_body

pytestmark = pytest.mark.django_db

SIGNUP = "/zato/sso/user/signup"
LOGIN = "/zato/sso/user/login"
CONFIRM = "/zato/sso/user/signup/confirm"


@pytest.fixture
def owner(db) -> User:
    return _insert(NewUser("owner", "owner@example.com", GOOD_PASSWORD), approved=True)


def client_at(address: str) -> ApiClient:
    client = ApiClient()
    client.client.defaults["REMOTE_ADDR"] = address
    return client


def table_sizes() -> dict[str, int]:
    """Rows in every table of admit's models, held sign-ups included."""
    sizes = {}
    for model in apps.get_models():
        if model.__module__.startswith("admit."):
            manager = model.with_held_signups if model is User else model._default_manager
            sizes[model._meta.db_table] = manager.count()
    return sizes


def without_cid(response) -> tuple[int, dict]:
    body = dict(response.json())  # a copy: the test client keeps the parsed body
    body.pop("cid", None)
    if "confirm_token" in body:
        assert body["confirm_token"].startswith("zcnt") and len(body["confirm_token"]) == 36
        body["confirm_token"] = "zcnt…"
    return response.status_code, body


def walk(api, username: str, email: str) -> list:
    """A sign-up and every follow-up a curious caller can make, with what each answered and
    how many rows each wrote to which table."""
    seen = []

    def step(response):
        seen.append(without_cid(response))

    before = table_sizes()
    signed_up = api.post(SIGNUP, signup_body(username=username, email=email))
    step(signed_up)
    after = table_sizes()
    seen.append({table: after[table] - before[table] for table in after})
    step(api.post(SIGNUP, signup_body(username=username, email=f"other-{username}@example.com")))
    credentials = {"username": username, "password": GOOD_PASSWORD, "current_app": "CRM"}
    step(api.post(LOGIN, credentials))
    step(api.post(LOGIN, {**credentials, "password": "not the password"}))
    token = signed_up.json()["confirm_token"]
    step(api.post(CONFIRM, {"confirm_token": token}))
    step(api.post(CONFIRM, {"confirm_token": token}))
    step(api.post(LOGIN, credentials))
    return seen


def test_taken_and_fresh_addresses_answer_alike_in_every_follow_up(owner):
    # Each from an address of its own, so that neither finds the other's rate counts.
    fresh = walk(client_at("10.1.0.1"), "newbie1", "newbie1@example.com")
    taken = walk(client_at("10.1.0.2"), "newbie2", "OWNER@example.com")
    assert fresh == taken
    assert fresh[0] == (200, {"status": "ok", "confirm_token": "zcnt…"})
    assert fresh[2][1]["sub_status"] == ["E001002"]  # the username is held at once
    assert fresh[3][1]["sub_status"] == ["E005003"]  # not confirmed yet
    assert fresh[7][1]["sub_status"] == ["E005004"]  # confirmed, waiting for approval


def test_the_owner_is_told_and_no_account_appears(api, owner, admin_ust):
    response = api.post(SIGNUP, signup_body(username="newbie", email="Owner@Example.com"))
    assert response.status_code == 200
    (mail,) = OutgoingEmail.objects.filter(template__startswith="signup")
    assert mail.to == "owner@example.com" and mail.template == "signup_email_taken"
    assert response.json()["confirm_token"] not in mail.body_text
    api.post(CONFIRM, {"confirm_token": response.json()["confirm_token"]})
    # Nobody lists it: not the approval queue, not the search, and approving it fails.
    queue = api.get(f"/zato/sso/user/signup/pending?ust={admin_ust}").json()
    assert "newbie" not in str(queue)
    held = User.with_held_signups.get(username="newbie")
    assert held.holds_taken_email and held.is_confirmed and not held.is_approved
    approve = api.post("/zato/sso/user/signup/approve", {"user_id": held.user_id, "ust": admin_ust})
    assert approve.status_code == 403
    assert not User.with_held_signups.get(username="newbie").is_approved


def test_each_sign_up_counts_once_against_the_address_limit(api, owner):
    api.post(SIGNUP, signup_body(username="newbie1", email="newbie1@example.com"))
    api.post(SIGNUP, signup_body(username="newbie2", email="owner@example.com"))
    (count,) = RateCount.objects.filter(subject__startswith="admit:signups-address")
    assert count.count == 2


def test_the_held_username_is_free_again_once_its_confirmation_expired(api, owner, clock):
    api.post(SIGNUP, signup_body(username="newbie", email="owner@example.com"))
    clock.advance(seconds=172800 + 1)
    sweep()
    assert not User.with_held_signups.filter(username="newbie").exists()
    fresh = api.post(SIGNUP, signup_body(username="newbie", email="newbie@example.com"))
    assert fresh.status_code == 200


def test_a_fresh_unconfirmed_sign_up_is_not_swept(api, db, clock):
    api.post(SIGNUP, signup_body(username="newbie", email="newbie@example.com"))
    clock.advance(days=30)
    sweep()
    assert User.objects.filter(username="newbie").exists()


def test_password_reset_for_the_address_reaches_only_the_owner(api, owner, clock):
    api.post(SIGNUP, signup_body(username="newbie", email="owner@example.com"))
    api.post("/zato/sso/password/reset", {"credential": "owner@example.com", "current_app": "CRM"})
    api.post("/zato/sso/password/reset", {"credential": "newbie", "current_app": "CRM"})
    (mail,) = OutgoingEmail.objects.filter(template="password_reset")
    assert "owner" in mail.body_text and "newbie" not in mail.body_text


@pytest.mark.parametrize(
    "problems",
    [
        {"password": "password"},
        {"username": "root1", "password": "short"},
        {"username": "owner", "password": "password"},  # the owner's own username: taken
    ],
)
def test_a_refused_sign_up_answers_and_works_alike_for_a_taken_and_a_fresh_address(owner, problems):
    """Every problem comes at once, but the taken address is never among them, and the work
    done (the queries, no hash, no e-mail, no row) is the same: neither the answer nor its time
    tells that the address has an account."""
    answers, work = [], []
    for n, email in enumerate(("fresh@example.com", "OWNER@example.com")):
        api = client_at(f"10.2.0.{n + 1}")
        before = table_sizes()
        with CaptureQueriesContext(connection) as queries:
            response = api.post(SIGNUP, signup_body(email=email, **problems))
        answers.append(without_cid(response))
        sizes = table_sizes()
        rows = {
            table: sizes[table] - before[table]
            for table in sizes
            if table != "admit_audit_auditevent"
        }
        work.append((len(queries), rows))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403 and "E002002" not in answers[0][1]["sub_status"]
    assert work[0] == work[1]
    assert not OutgoingEmail.objects.exists()


def test_the_taken_address_is_told_with_the_other_problems_when_the_policy_says_so(
    api, owner, policy
):
    policy(signup={"inform_if_email_exists": True})
    response = api.post(SIGNUP, signup_body(email="owner@example.com", password="password"))
    refused(response, "E002002", "E003001")
