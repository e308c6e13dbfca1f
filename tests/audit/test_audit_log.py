"""The audit log itself (``admit.audit``), across every flow that writes it: rows are only
ever added, no row holds a password, token or key, and each attempt writes exactly one row
with its true outcome and codes, under the request's ``cid``.

docs/operators.md ("The audit log"), docs/security.md and docs/api.md promise these; the
flows' own tests check the rows of their own events."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from admit import worker
from admit.audit.models import AuditEvent
from admit.core import totp
from admit.core.context import Caller
from admit.core.secrets import digest
from admit.mail.models import OutgoingEmail
from admit.remote.flows.registry import add_server, rotate_key
from admit.sso.models import Session, User
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, ApiClient, make_user, signup_body
from tests.remote.conftest import Server, confirmation_path, link_body, login_path, request_link

pytestmark = pytest.mark.django_db

SIGNUP = "/zato/sso/user/signup"
CONFIRM = "/zato/sso/user/signup/confirm"
APPROVE = "/zato/sso/user/signup/approve"
REJECT = "/zato/sso/user/signup/reject"
LOGIN = "/zato/sso/user/login"
LOGOUT = "/zato/sso/user/logout"
SESSION = "/zato/sso/user/session"
USER = "/zato/sso/user"
PASSWORD = "/zato/sso/user/password"
TOTP = "/zato/sso/user/totp"
RESET = "/zato/sso/password/reset"
MAILED_TOKEN = re.compile(r"zcnt[0-9a-f]{32}")
UNKNOWN_TOKEN = "zcnt" + "0" * 32

WRONG_GUESS = "Wrong-Guess-Of-A-Passphrase-31"
CHANGED_PASSWORD = "Changed passphrase of nine words 4"
RESET_PASSWORD = "Seven swallows over the plum tree"
CREATED_PASSWORD = "Created-By-The-Boss-For-Carol-58"


@pytest.fixture(autouse=True)
def no_response_floor(monkeypatch):
    """A reset request answers no sooner than 0.2 s (timing tells nothing); not needed here."""
    monkeypatch.setattr("admit.sso.flows.reset.RESPONSE_FLOOR_SECONDS", 0)


def table() -> dict[int, dict[str, Any]]:
    """Every audit row, by id, with every column's value."""
    return {row["id"]: row for row in AuditEvent.objects.values()}


def everything_in_the_table() -> str:
    """Every value of every audit row as text, as the database hands it out and as the ORM
    reads it, case-folded: what a secret must not be found in."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuditEvent._meta.db_table}")  # noqa: S608
        raw = [repr(row) for row in cursor.fetchall()]
    orm = json.dumps(list(AuditEvent.objects.values()), default=str)
    return "\n".join([*raw, orm]).casefold()


def spellings(secret: str) -> set[str]:
    """``secret`` as it could be written down: as is, URL-encoded, JSON-escaped, and (for the
    ones stored hashed) as the digest the database keeps."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        digest(secret),
    }


def mailed_token(template: str, to: str) -> str:
    email = OutgoingEmail.objects.filter(template=template, to=to).latest("id")
    (token,) = set(MAILED_TOKEN.findall(email.body_text))
    return token


def log_in(api: ApiClient, name: str, password: str, **more: str):
    return api.post(LOGIN, {"username": name, "password": password, "current_app": "CRM", **more})


def ok(response) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    return response.json()


# 1. Append-only


def test_a_whole_life_only_ever_adds_rows(api, admin_ust, superuser, clock):
    """Sign-ups, confirmations, approval and rejection, failed and successful log-ins, a
    password reset, a user deleted and the worker's sweeps a month later: each step adds rows
    after the last one, and leaves every earlier row as it was, to the last column."""
    state: dict[str, str] = {}

    def sign_up(name: str) -> None:
        body = signup_body(username=name, email=f"{name}@example.com")
        state[name] = ok(api.post(SIGNUP, body))["confirm_token"]

    def confirm(name: str) -> None:
        ok(api.post(CONFIRM, {"confirm_token": state[name]}))

    def user_id(name: str) -> str:
        return User.objects.get(username=name).user_id

    def log_in_ann() -> None:
        state["ust"] = ok(log_in(api, "ann", GOOD_PASSWORD))["ust"]

    def ask_for_a_reset() -> None:
        ok(api.post(RESET, {"credential": "ann", "current_app": "CRM"}))
        state["reset"] = mailed_token("password_reset", "ann@example.com")

    def open_the_reset() -> None:
        state["key"] = ok(api.call("PATCH", RESET, {"token": state["reset"]}))["reset_key"]

    def finish_the_reset() -> None:
        body = {"token": state["reset"], "reset_key": state["key"], "password": RESET_PASSWORD}
        ok(api.call("DELETE", RESET, body))

    def sweep_a_month_later() -> None:
        clock.advance(days=60)
        kept = Session.objects.count()
        worker.sweep()
        assert Session.objects.count() < kept  # the sweep did delete what had expired

    steps: list[tuple[str, Callable[[], object], bool]] = [
        ("ann signs up", lambda: sign_up("ann"), True),
        ("bob signs up", lambda: sign_up("bob"), True),
        ("the name taken again", lambda: api.post(SIGNUP, signup_body(username="ann")), True),
        ("ann confirms", lambda: confirm("ann"), True),
        ("ann confirms again", lambda: api.post(CONFIRM, {"confirm_token": state["ann"]}), True),
        ("bob confirms", lambda: confirm("bob"), True),
        ("ann logs in too early", lambda: log_in(api, "ann", GOOD_PASSWORD), True),
        (
            "ann is approved",
            lambda: ok(api.post(APPROVE, {"user_id": user_id("ann"), "ust": admin_ust})),
            True,
        ),
        (
            "bob is rejected",
            lambda: ok(api.post(REJECT, {"user_id": user_id("bob"), "ust": admin_ust})),
            True,
        ),
        ("a wrong password", lambda: log_in(api, "ann", WRONG_GUESS), True),
        ("ann logs in", log_in_ann, True),
        (
            "ann logs out",
            lambda: ok(api.post(LOGOUT, {"ust": state["ust"], "current_app": "CRM"})),
            True,
        ),
        ("ann asks for a reset", ask_for_a_reset, True),
        ("ann opens the reset", open_the_reset, True),
        ("ann sets a new password", finish_the_reset, True),
        ("ann logs in again", lambda: ok(log_in(api, "ann", RESET_PASSWORD)), True),
        (
            "ann is deleted",
            lambda: ok(api.call("DELETE", USER, {"ust": admin_ust, "user_id": user_id("ann")})),
            True,
        ),
        ("the worker sweeps a month later", sweep_a_month_later, False),
        ("a log-in for nobody", lambda: log_in(api, "ann", RESET_PASSWORD), True),
    ]
    history = table()
    assert history  # the super-user's creation and log-in
    with CaptureQueriesContext(connection) as queries:
        for name, step, writes in steps:
            clock.advance(seconds=1)
            step()
            now = table()
            assert history.keys() <= now.keys(), f"{name}: deleted {history.keys() - now.keys()}"
            changed = {id_: (history[id_], now[id_]) for id_ in history if now[id_] != history[id_]}
            assert not changed, f"{name}: changed {changed}"
            added = sorted(now.keys() - history.keys())
            if writes:
                assert added, f"{name}: wrote no audit row"
                assert added[0] > max(history), f"{name}: an id below an earlier row's"
            else:
                assert not added, f"{name}: wrote {added}"
            history = now
    # Nor did any statement try to: no UPDATE, DELETE or TRUNCATE of the table, whatever it hit.
    name = re.escape(AuditEvent._meta.db_table)
    touching = re.compile(rf'\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+"?{name}\b', re.I)
    assert [q["sql"] for q in queries if touching.search(q["sql"])] == []
    # The trail of the rejected and the deleted outlives their accounts.
    assert not User.objects.filter(username__in=["ann", "bob"]).exists()
    for event in ("signup", "signup.confirm", "signup.reject", "login", "password.reset"):
        assert AuditEvent.objects.filter(event=event).exists(), event


def test_the_django_admin_shows_rows_but_cannot_add_change_or_delete_them(
    api, superuser, admin_ust
):
    ok(api.post(SIGNUP, signup_body()))
    row = AuditEvent.objects.get(event="signup")
    before = table()
    browser = Client()
    session = browser.session
    session["admit_ust"] = admin_ust  # the admin takes the console's log-in (/login/ puts it)
    session.save()
    rows_page = "/admin/audit/auditevent/"
    assert browser.get(rows_page).status_code == 200
    assert browser.get(f"{rows_page}{row.id}/change/").status_code == 200  # to read
    assert browser.get(f"{rows_page}add/").status_code == 403
    forged = {"created_at_0": "2020-01-01", "created_at_1": "00:00:00", "event": "forged"}
    forged |= {"outcome": "ok", "cid": "c" * 24, "extra_data": "{}"}
    assert browser.post(f"{rows_page}add/", forged).status_code == 403
    assert browser.post(f"{rows_page}{row.id}/change/", forged).status_code == 403
    assert browser.get(f"{rows_page}{row.id}/delete/").status_code == 403
    assert browser.post(f"{rows_page}{row.id}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [str(row.id)], "post": "yes"}
    browser.post(rows_page, bulk)
    assert table() == before
    request = RequestFactory().get(rows_page)
    request.user = superuser
    model_admin = admin.site.get_model_admin(AuditEvent)
    assert "delete_selected" not in model_admin.get_actions(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)


# 2. No secret in any row


def test_no_password_token_or_key_of_a_whole_life_is_in_any_row(api, admin_ust, superuser, clock):
    """Every secret a person, a super-user or a remote server handles in a whole life, and
    every wrong guess of one, is looked for in every column of every row."""
    secrets: dict[str, str] = {
        "the super-user's password": ADMIN_PASSWORD,
        "the super-user's ust": admin_ust,
        "a wrong password": WRONG_GUESS,
    }
    # Sign-up, confirmation, approval; a wrong password, then log-ins.
    body = ok(api.post(SIGNUP, signup_body(username="ann", email="ann@example.com")))
    secrets["ann's first password"] = GOOD_PASSWORD
    secrets["the confirm token"] = body["confirm_token"]
    ok(api.post(CONFIRM, {"confirm_token": body["confirm_token"]}))
    ann = User.objects.get(username="ann").user_id
    ok(api.post(APPROVE, {"user_id": ann, "ust": admin_ust}))
    assert log_in(api, "ann", WRONG_GUESS).status_code == 403
    ust = secrets["ann's ust"] = ok(log_in(api, "ann", GOOD_PASSWORD))["ust"]
    # A password change, then a reset by e-mail.
    change = {"ust": ust, "old_password": GOOD_PASSWORD, "new_password": CHANGED_PASSWORD}
    ok(api.call("PATCH", PASSWORD, change))
    secrets["ann's changed password"] = CHANGED_PASSWORD
    ok(api.post(RESET, {"credential": "ann@example.com", "current_app": "CRM"}))
    token = secrets["the reset token"] = mailed_token("password_reset", "ann@example.com")
    key = secrets["the reset key"] = ok(api.call("PATCH", RESET, {"token": token}))["reset_key"]
    finish = {"token": token, "reset_key": key, "password": RESET_PASSWORD}
    ok(api.call("DELETE", RESET, finish))
    secrets["ann's reset password"] = RESET_PASSWORD
    # The web log-in page: its session cookie.
    browser = Client()
    page = browser.post("/login/", {"username": "ann", "password": RESET_PASSWORD})
    assert page.status_code == 302, page.content
    secrets["the web session's cookie"] = browser.cookies["sessionid"].value
    # TOTP: enrolment, a log-in with a code, a renewal and a log-out.
    ust = secrets["ann's second ust"] = ok(log_in(api, "ann", RESET_PASSWORD))["ust"]
    totp_key = secrets["the TOTP key"] = ok(api.call("PATCH", TOTP, {"ust": ust}))["totp_key"]
    clock.advance(seconds=30)
    code = totp.code_at(totp_key, totp.step_of(clock()))
    answer = ok(log_in(api, "ann", RESET_PASSWORD, totp_code=code))
    ust = secrets["ann's ust with TOTP"] = answer["ust"]
    ok(api.call("PATCH", SESSION, {"ust": ust, "current_app": "CRM"}))
    ok(api.post(LOGOUT, {"ust": ust, "current_app": "CRM"}))
    # A user the super-user creates with a password.
    make_user(api, admin_ust, "carol", password=CREATED_PASSWORD)
    secrets["carol's password"] = CREATED_PASSWORD
    # A remote server: its key, a log-in link, the e-mailed confirmation, the confirm-login
    # page, a key rotation, and the old key tried again.
    registered = add_server("chat.example.com", "ops@example.com", Caller())
    server = Server(str(registered.server.uuid), registered.key)
    secrets["the server's key"] = registered.key
    visitor = Client()
    path = login_path(visitor, server)
    secrets["the log-in link's token"] = path.strip("/").rsplit("/", 1)[-1]
    assert visitor.post(path, {"email": "ada@chat.example.com"}).status_code == 200
    confirmation = confirmation_path()
    secrets["the e-mail confirmation key"] = confirmation.strip("/").rsplit("/", 1)[-1]
    landed = visitor.post(confirmation)
    assert landed.status_code == 302, landed.content
    confirm_login = landed["Location"].removeprefix("http://admit.test")
    secrets["the confirm-login page's token"] = confirm_login.strip("/").rsplit("/", 1)[-1]
    done = visitor.post(confirm_login, {"full_name": "Ada", "tos_consent": "on"})
    assert done.status_code == 302, done.content
    secrets["the portal session's cookie"] = visitor.cookies["sessionid"].value
    rotated = rotate_key(server.uuid, Caller())
    secrets["the server's new key"] = rotated.key
    assert request_link(Client(), server, link_body()).status_code == 401  # the old key

    assert all(len(secret) >= 16 for secret in secrets.values()), secrets
    events = set(AuditEvent.objects.values_list("event", flat=True))
    assert {
        "signup",
        "signup.confirm",
        "signup.approve",
        "login",
        "user.password",
        "password.reset_request",
        "password.reset_open",
        "password.reset",
        "user.totp",
        "session.renew",
        "logout",
        "user.create",
        "remote.server.register",
        "remote.login_link",
        "remote.email_confirmation",
        "remote.email_confirmed",
        "remote.login",
        "remote.server.rotate_key",
    } <= events, events
    dump = everything_in_the_table()
    assert ann.casefold() in dump and str(server.uuid) in dump  # the search does find things
    leaked = {
        what: spelling
        for what, secret in secrets.items()
        for spelling in spellings(secret)
        if spelling.casefold() in dump
    }
    assert leaked == {}


# 3. Exactly one row per attempt


@dataclass
class Attempt:
    """One API call, what it is answered (``status``, ``answered`` codes: the row's own unless
    the answer hides them) and the one row it writes: ``event`` with ``codes`` (an error) or
    none (ok). ``then`` keeps what a later attempt needs from the answer."""

    what: str
    call: Callable[[], Any]
    event: str
    codes: str = ""
    status: int = 200
    answered: list[str] | None = None
    then: Callable[[Any], object] = lambda response: None


def test_each_attempt_writes_exactly_one_row_with_its_true_outcome(api, admin_ust, policy):
    """Attempts that succeed, that are refused for every kind of reason, and that a rate
    limit stops: each writes one row, under its own cid and address, with the true codes
    (also when the answer hides them)."""
    kept: dict[str, str] = {}

    def sign_up(name: str, **changes: str):
        return api.post(SIGNUP, signup_body(username=name, email=f"{name}@example.com", **changes))

    def keep(name: str, field: str) -> Callable[[Any], object]:
        return lambda response: kept.__setitem__(name, response.json()[field])

    def hide_unapproved(hidden: bool) -> None:
        policy(login={"inform_if_not_approved": not hidden})

    def ann() -> str:
        return User.objects.get(username="ann").user_id

    def log_out(name: str):
        return api.post(LOGOUT, {"ust": kept[name], "current_app": "CRM"})

    def hidden_log_in():
        hide_unapproved(True)
        return log_in(api, "ann", GOOD_PASSWORD)

    dee = {"username": "dee", "password": GOOD_PASSWORD, "email": "dee@example.com"}
    attempts = [
        Attempt("sign-up", lambda: sign_up("ann"), "signup", then=keep("token", "confirm_token")),
        Attempt(
            "the name again, in capitals",
            lambda: api.post(SIGNUP, signup_body(username="ANN", email="x@example.com")),
            "signup",
            codes="E001002",
            status=403,
        ),
        Attempt(
            "a short password",
            lambda: sign_up("bob", password="x7-Q"),
            "signup",
            codes="E003002",
            status=403,
        ),
        Attempt(
            "an app that does not exist",
            lambda: sign_up("cyd", current_app="Nope"),
            "signup",
            codes="E004001",
            status=403,
        ),
        Attempt(
            "a token never issued",
            lambda: api.post(CONFIRM, {"confirm_token": UNKNOWN_TOKEN}),
            "confirmation.confirm",
            codes="E005006",
            status=403,
        ),
        Attempt(
            "the token",
            lambda: api.post(CONFIRM, {"confirm_token": kept["token"]}),
            "signup.confirm",
        ),
        Attempt(
            "the token again",
            lambda: api.post(CONFIRM, {"confirm_token": kept["token"]}),
            "signup.confirm",
            codes="E005007",
            status=403,
        ),
        Attempt(
            "a log-in before approval",
            lambda: log_in(api, "ann", GOOD_PASSWORD),
            "login",
            codes="E005004",
            status=403,
        ),
        Attempt(
            "the same, with the reason hidden from the caller",
            hidden_log_in,
            "login",
            codes="E005004",
            status=403,
            answered=["E005001"],
            then=lambda response: hide_unapproved(False),
        ),
        Attempt(
            "a user made by the super-user",
            lambda: api.post(USER, {"ust": admin_ust, "auto_approve": True, **dee}),
            "user.create",
        ),
        Attempt(
            "that user logs in",
            lambda: log_in(api, "dee", GOOD_PASSWORD),
            "login",
            then=keep("dee", "ust"),
        ),
        Attempt(
            "an approval by someone not a super-user",
            lambda: api.post(APPROVE, {"user_id": ann(), "ust": kept["dee"]}),
            "signup.approve",
            codes="E005005",  # the audit's true code; the caller sees Zato's E005001
            answered=["E005001"],
            status=403,
        ),
        Attempt(
            "the approval",
            lambda: api.post(APPROVE, {"user_id": ann(), "ust": admin_ust}),
            "signup.approve",
        ),
        Attempt(
            "a wrong password",
            lambda: log_in(api, "ann", WRONG_GUESS),
            "login",
            codes="E005001",
            status=403,
        ),
        Attempt(
            "a log-in to an app that does not exist",
            lambda: api.post(
                LOGIN, {"username": "ann", "password": GOOD_PASSWORD, "current_app": "Nope"}
            ),
            "login",
            codes="E004001",
            status=403,
        ),
        Attempt(
            "the log-in",
            lambda: log_in(api, "ann", GOOD_PASSWORD),
            "login",
            then=keep("ann", "ust"),
        ),
        Attempt("the log-out", lambda: log_out("ann"), "logout"),
        Attempt("the log-out again (answered alike)", lambda: log_out("ann"), "logout"),
    ]
    # Reset requests for an account that does not exist are answered alike; the fourth from
    # this address for the same name in an hour is refused.
    for number in (1, 2, 3):
        attempts.append(
            Attempt(
                f"reset request {number} for nobody",
                lambda: api.post(RESET, {"credential": "nobody", "current_app": "CRM"}),
                "password.reset_request",
            )
        )
    attempts.append(
        Attempt(
            "reset request 4 for nobody",
            lambda: api.post(RESET, {"credential": "nobody", "current_app": "CRM"}),
            "password.reset_request",
            codes="E005001",
            status=429,
        )
    )
    # Five wrong guesses of ann's password from one address (the log-in above started the
    # count afresh), then her log-ins from there are paused.
    for number in range(1, 7):
        attempts.append(
            Attempt(
                f"wrong guess {number}",
                lambda: log_in(api, "ann", WRONG_GUESS),
                "login",
                codes="E005001",
                status=403 if number <= 5 else 429,
            )
        )

    for attempt in attempts:
        what = attempt.what
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = attempt.call()
        assert response.status_code == attempt.status, (what, response.content)
        answered = attempt.codes.split(",") if attempt.codes else []
        if attempt.answered is not None:
            answered = attempt.answered
        assert response.json().get("sub_status", []) == answered, (what, response.content)
        written = list(AuditEvent.objects.filter(id__gt=last).order_by("id"))
        assert len(written) == 1, (what, [(row.event, row.outcome) for row in written])
        (row,) = written
        outcome = "error" if attempt.codes else "ok"
        assert (row.event, row.outcome, row.error_codes) == (
            attempt.event,
            outcome,
            attempt.codes,
        ), what
        assert row.cid == response.json()["cid"], what
        assert row.remote_ip == "10.23.91.177", what
        attempt.then(response)
