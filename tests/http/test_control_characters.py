"""Control characters in text input: refused at the edge with HTTP 400,
E008002 and the field named, before anything is written, on SQLite and PostgreSQL alike.

Run on PostgreSQL too: ``ADMIT_DATABASE_URL=postgres://... pytest`` this file, where a NUL
that reached the database would answer 500 (PostgreSQL text cannot hold it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from admit.audit.models import AuditEvent
from admit.core.context import Caller
from admit.remote.flows.registry import add_server
from admit.remote.models import RemoteRealm, RemoteRealmUser
from admit.sso.models import Session, User
from tests.conftest import GOOD_PASSWORD, signup_body
from tests.remote.conftest import Server, link_body, request_link

pytestmark = pytest.mark.django_db

NUL, ESC, DEL, C1 = "\x00", "\x1b", "\x7f", "\x85"
CONTROLS = [
    pytest.param(NUL, id="NUL"),
    pytest.param(ESC, id="ESC"),
    pytest.param(DEL, id="DEL"),
    pytest.param(C1, id="NEL"),
]


def refused_field(response, field: str, problem: str = "control character") -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "error" and body["sub_status"] == ["E008002"], body
    problems = {detail["field"]: detail["problem"] for detail in body["details"]}
    assert field in problems, problems
    assert problem in problems[field]


def nothing_written() -> None:
    assert not User.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("char", CONTROLS)
@pytest.mark.parametrize(
    "field", ["username", "display_name", "remote_addr", "current_app", "email", "password"]
)
def test_signup_field(api, field, char):
    refused_field(api.post("/zato/sso/user/signup", signup_body(**{field: f"a{char}b"})), field)
    nothing_written()


def test_signup_app_list_item_is_named(api):
    refused_field(
        api.post("/zato/sso/user/signup", signup_body(app_list=["CRM", NUL])), "app_list.1"
    )
    nothing_written()


def test_a_lone_surrogate_is_refused_too(api):
    raw = json.dumps(signup_body(display_name="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")
    response = api.call("POST", "/zato/sso/user/signup", raw=raw.encode())
    refused_field(response, "display_name", problem="string")  # pydantic's own refusal
    nothing_written()


@pytest.mark.parametrize("char", CONTROLS)
@pytest.mark.parametrize(
    "field", ["username", "password", "current_app", "remote_addr", "user_agent", "totp_code"]
)
def test_login_field(api, superuser, field, char):
    users = User.objects.count()
    body = {"username": "boss", "password": "x", "current_app": "CRM", field: f"a{char}"}
    refused_field(api.post("/zato/sso/user/login", body), field)
    assert User.objects.count() == users
    assert not AuditEvent.objects.filter(event="login").exists()
    assert not Session.objects.exists()


@pytest.mark.parametrize("char", CONTROLS)
@pytest.mark.parametrize("field", ["credential", "current_app"])
def test_reset_request_field(api, field, char):
    body = {"credential": "user1", field: f"user1{char}"}
    refused_field(api.post("/zato/sso/password/reset", body), field)
    nothing_written()


def test_query_string_values(api):
    refused_field(api.get("/zato/sso/user/signup?ust=zust%00x"), "ust")
    refused_field(api.get("/zato/sso/user/session?current_ust=%1b"), "current_ust")
    refused_field(api.get("/zato/sso/user/session/list?ust=a&user_id=%00"), "user_id")
    assert not AuditEvent.objects.exists()


def test_search_terms(api, admin_ust):
    before = AuditEvent.objects.count()
    body = {"ust": admin_ust, "username": "bo\x00", "is_name_exact": False}
    refused_field(api.post("/zato/sso/user/search", body), "username")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (
            "/zato/sso/user",
            "POST",
            {"username": "x", "email": "x@example.com", "display_name": NUL},
        ),
        ("/zato/sso/user", "PATCH", {"display_name": "Bo\x00ss"}),
        ("/zato/sso/user/password", "PATCH", {"new_password": f"{GOOD_PASSWORD}\x00"}),
        ("/zato/sso/user/signup/reject", "POST", {"user_id": "zusr1", "reason": "no\x00"}),
        ("/zato/sso/user/totp", "PATCH", {"totp_label": "phone\x1b"}),
    ],
)
def test_super_user_and_account_fields(api, admin_ust, path, method, body):
    before = (User.objects.count(), AuditEvent.objects.count())
    full = {"password": GOOD_PASSWORD, "user_id": "", **body, "ust": admin_ust}
    response = api.call(method, path, full)
    field = next(name for name, value in body.items() if "\x00" in value or "\x1b" in value)
    refused_field(response, field)
    assert (User.objects.count(), AuditEvent.objects.count()) == before


def test_a_tab_in_a_password_is_kept_as_typed(api):
    password = f"tab\there {GOOD_PASSWORD}"
    assert api.post("/zato/sso/user/signup", signup_body(password=password)).status_code == 200
    assert User.objects.get().check_password(password)


def test_a_rejection_reason_keeps_its_line_breaks(api, admin_ust, policy):
    policy(signup={"confirmation_required": False})
    assert api.post("/zato/sso/user/signup", signup_body()).status_code == 200
    user_id = User.objects.get(username="user1").user_id
    reason = "Unknown to us.\r\n\tAsk your manager."
    body = {"ust": admin_ust, "user_id": user_id, "reason": reason}
    assert api.post("/zato/sso/user/signup/reject", body).status_code == 200
    assert AuditEvent.objects.get(event="signup.reject").extra_data["reason"] == reason


def test_a_tab_in_a_username_is_the_whitespace_rule(api):
    response = api.post("/zato/sso/user/signup", signup_body(username="user\t1"))
    assert response.status_code == 403 and response.json()["sub_status"] == ["E001004"]


def test_every_request_string_is_documented_without_control_characters(client):
    """A string field added without the ``Text`` types of admit.sso.schemas fails here."""
    document = client.get("/api/openapi.json").json()
    components = document["components"]["schemas"]
    unguarded: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            walk(components[schema["$ref"].rsplit("/", 1)[1]], where)
            return
        for option in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(option, where)
        plain_string = schema.get("type") == "string" and not {"enum", "format"} & set(schema)
        if plain_string and "pattern" not in schema:
            unguarded.append(where)
        for name, value in schema.get("properties", {}).items():
            walk(value, f"{where}.{name}")
        if "items" in schema:
            walk(schema["items"], f"{where}[]")

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}")
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                walk(media["schema"], f"{method} {path} body")
    assert not unguarded


# The remote servers' API


@pytest.fixture
def server(db) -> Server:
    made = add_server("chat.example.com", "ops@example.com", Caller())
    return Server(str(made.server.uuid), made.key)


@pytest.mark.parametrize("char", [NUL, ESC])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("user", "full_name"),
        ("user", "email"),
        ("realm", "name"),
        ("realm", "host"),
        (None, "next_page"),
    ],
)
def test_remote_login_link_fields(client, server, where, field, char):
    body = link_body()
    if where:
        body[where][field] = f"Ex{char}ample"
    else:
        body[field] = f"account{char}"
    response = request_link(client, server, body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["sub_status"] == ["E008002"]
    named = f"{where}.{field}" if where else field
    assert named in {detail["field"] for detail in answer["details"]}
    assert not RemoteRealm.objects.exists() and not RemoteRealmUser.objects.exists()
    assert not AuditEvent.objects.filter(event="remote.login_link").exists()


def test_remote_register_version(client, server):
    response = client.post(
        "/api/v1/remotes/server/register",
        json.dumps({"version": "9.0\x00", "realms": []}),
        content_type="application/json",
        **server.headers(),
    )
    refused_field(response, "version")


# The pages: a form error on the field, never a 500, nothing written


@pytest.mark.parametrize("char", [NUL, ESC])
@pytest.mark.parametrize("field", ["username", "display_name", "email", "password"])
def test_signup_page(client, field, char):
    values = {
        "username": "user1",
        "email": "user1@example.com",
        "password": GOOD_PASSWORD,
        "display_name": "User",
    }
    values[field] = f"x{char}y"
    response = client.post("/signup/?app=CRM", values)
    assert response.status_code == 400
    nothing_written()


@pytest.mark.parametrize("char", [NUL, ESC])
def test_login_page(client, superuser, char):
    response = client.post("/login/?app=CRM", {"username": f"boss{char}", "password": "x"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(event="login").exists()


@pytest.mark.parametrize("char", [NUL, ESC])
def test_profile_page_names_the_field(client, superuser, char):
    from tests.conftest import ADMIN_PASSWORD

    client.post("/login/?app=CRM", {"username": "boss", "password": ADMIN_PASSWORD})
    response = client.post("/account/profile/", {"display_name": f"Bo{char}ss"})
    assert response.status_code == 400
    assert b"control characters" in response.content or b"Null characters" in response.content
    assert User.objects.get().display_name == ""


@pytest.mark.parametrize("char", [NUL, ESC])
def test_console_forms(admin_ust, char):
    from tests.console.conftest import web_client

    console = web_client(admin_ust)
    users = User.objects.count()
    assert console.get("/console/users/", {"q": f"bo{char}"}).status_code == 200
    assert console.get("/console/audit/", {"user_id": f"zusr{char}"}).status_code == 400
    response = console.post(
        "/console/users/new/",
        {"username": f"new{char}", "email": "new@example.com", "password": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    assert User.objects.count() == users
    response = console.post(
        "/console/queue/", {"action": "reject", "selected": [f"zusr{char}"], "reason": "x"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize("char", [NUL, ESC])
def test_signup_page_names_the_field_and_keeps_what_was_typed(client, char):
    response = client.post(
        "/signup/?app=CRM",
        {"username": f"us{char}er", "email": "user1@example.com", "password": GOOD_PASSWORD},
    )
    assert response.status_code == 400
    assert b"Some fields are too long" not in response.content
    assert b'value="user1@example.com"' in response.content
    nothing_written()


@pytest.mark.parametrize("char", [NUL, ESC])
def test_reset_page_refuses_the_field_and_asks_nothing(client, char):
    response = client.post("/password/reset/?app=CRM", {"credential": f"bo{char}ss"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(event="password.reset_request").exists()


@pytest.mark.parametrize("path", ["/console/users/zusr%00x/", "/console/users/zusr%1bx/lock/"])
def test_console_user_paths_with_control_characters_are_not_found(client, superuser, path):
    from tests.conftest import ADMIN_PASSWORD

    client.post("/login/?app=CRM", {"username": "boss", "password": ADMIN_PASSWORD})
    assert client.get(path).status_code == 404


def test_a_user_agent_with_control_characters_is_kept_without_them(api, superuser):
    from tests.conftest import ADMIN_PASSWORD

    body = {"username": "boss", "password": ADMIN_PASSWORD, "current_app": "CRM"}
    response = api.post("/zato/sso/user/login", body, HTTP_USER_AGENT="curl\x00/8\x1b")
    assert response.status_code == 200
    assert Session.objects.get().user_agent == "curl/8"


@pytest.mark.parametrize("char", [NUL, ESC])
def test_remote_confirm_login_form(client, server, char):
    from tests.remote.conftest import known_user, login_path

    known = known_user(client, server)
    response = client.post(
        login_path(client, server), {"full_name": f"Ada{char}", "tos_consent": "on"}
    )
    assert response.status_code == 400
    assert b"control character" in response.content
    known.refresh_from_db()
    assert known.full_name == "Saved Name"
