"""Malformed requests get HTTP 400 (or 404/405/413) in the envelope and change nothing."""

from __future__ import annotations

import json

import pytest

from admit.audit.models import AuditEvent
from admit.sso.models import User
from tests.conftest import signup_body

pytestmark = pytest.mark.django_db

SIGNUP = "/zato/sso/user/signup"


def envelope(response, status: int, *codes: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert (
        body["status"] == "error" and body["sub_status"] == list(codes) and len(body["cid"]) == 24
    )
    return body


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"username": }',
        b"not json",
        b'{"a": 1,,}',
        b"\xff\xfe",
        b"[1, 2]",
        b'"text"',
        b"null",
    ],
)
def test_malformed_json(api, raw):
    envelope(api.call("POST", SIGNUP, raw=raw), 400, "E008002")
    assert not User.objects.exists()


def test_missing_fields_are_named(api):
    body = envelope(api.post(SIGNUP, {"username": "user1"}), 400, "E008003")
    # (An address may be left out: it is E002005 then, or allowed by [signup] email_required.)
    assert {detail["field"] for detail in body["details"]} == {"password", "current_app"}


def test_empty_body_is_all_missing(api):
    envelope(api.call("POST", SIGNUP, raw=b""), 400, "E008003")


@pytest.mark.parametrize(
    "change",
    [
        {"username": 123},
        {"password": ["x"]},
        {"email": None},
        {"app_list": "CRM"},
        {"app_list": [1]},
        {"current_app": True},
        {"display_name": "x" * 257},
    ],
)
def test_wrong_types(api, change):
    body = {**signup_body(), **change}
    envelope(api.post(SIGNUP, body), 400, "E008002")
    assert not User.objects.exists()


def test_missing_and_wrong_together(api):
    envelope(api.post(SIGNUP, {"username": 1}), 400, "E008003", "E008002")


def test_unknown_fields_are_ignored_and_grant_nothing(api):
    body = signup_body(
        is_superuser=True, approval_status="approved", confirmed_at="2020-01-01", user_id="zusrmine"
    )
    assert api.post(SIGNUP, body).status_code == 200
    user = User.objects.get()
    assert not user.is_superuser and not user.is_approved and not user.is_confirmed
    assert user.user_id != "zusrmine"


def test_huge_body_is_refused_before_it_is_read(api):
    body = signup_body(display_name="x" * 100_000)
    envelope(api.post(SIGNUP, body), 413, "E008002")
    assert not User.objects.exists()


def test_wrong_method(api):
    response = api.call("DELETE", SIGNUP)
    envelope(response, 405, "E008002")
    assert "POST" in response["Allow"]
    envelope(api.call("GET", "/zato/sso/user/signup/approve"), 405, "E008002")


def test_unknown_endpoint(api):
    envelope(api.post("/zato/sso/user/nothing-here", {}), 404, "E008002")


def test_real_json_content_type_works_too(client):
    response = client.post(SIGNUP, json.dumps(signup_body()), content_type="application/json")
    assert response.status_code == 200


def test_nothing_is_audited_as_success_for_bad_input(api):
    api.call("POST", SIGNUP, raw=b"{")
    assert not AuditEvent.objects.filter(outcome="ok").exists()


def test_openapi_document_lists_every_endpoint_and_the_error_shape(client):
    document = client.get("/api/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/zato/sso/user/signup"]) == {"get", "post", "patch"}
    for path in ("confirm", "approve", "reject"):
        assert "post" in paths[f"/zato/sso/user/signup/{path}"]
    assert "post" in paths["/zato/sso/user/login"] and "post" in paths["/zato/sso/user/logout"]
    signup = paths["/zato/sso/user/signup"]["post"]
    assert {"200", "400", "403"} <= set(signup["responses"])
    assert "ErrorOut" in json.dumps(signup["responses"]["403"])


def test_a_host_django_refuses_still_gets_the_envelope(db, settings):
    from django.test import Client

    settings.ALLOWED_HOSTS = ["admit.example.com"]
    response = Client(HTTP_HOST="evil.example.com").post(
        "/zato/sso/user/signup", "{}", content_type="application/json"
    )
    envelope(response, 400, "E008002")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_json_nested_too_deeply_is_input_invalid(api, method):
    body = envelope(api.call(method, SIGNUP, raw=b"[" * 60000), 400, "E008002")
    assert body["details"] == [{"field": "body", "problem": "nested too deeply"}]
    deep_object = b'{"a":' * 10000 + b"1" + b"}" * 10000
    envelope(api.call("POST", SIGNUP, raw=deep_object), 400, "E008002")


def test_the_sso_api_neither_sets_nor_reads_cookies(api, client):
    response = api.post(SIGNUP, signup_body())
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "Cookie" not in response.get("Vary", "")
    # A page still gets its CSRF cookie from the same middleware chain.
    page = client.get("/signup/")
    assert page.status_code == 200 and "csrftoken" in page.cookies
