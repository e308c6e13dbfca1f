"""docs/api.md's examples, run: every ``curl`` of the page, in order, against the service, with
each ``<placeholder>`` filled in from the answers before it (as a reader does), and each answer
checked against the one the page shows (its kind, its fields, its status)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from admit.core.context import Caller
from admit.sso.flows import create_superuser
from tests.conftest import ADMIN_PASSWORD, signup_body

pytestmark = pytest.mark.django_db

API_MD = Path(__file__).parents[2] / "docs" / "api.md"
CURL = re.compile(r'^\$ curl -X(?P<method>[A-Z]+) (?:"(?P<quoted>[^"]*)"|(?P<url>\S+))')
PLACEHOLDER = re.compile(r"<[^<>]+>")
TOKEN = re.compile(r"\b(zust|zusr|zcnt)[0-9a-z]{16,}")


def examples() -> list[tuple[str, str, str | None, Any]]:
    """(method, path and query, body or None, the answer shown) for each ``$ curl`` line."""
    lines = API_MD.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        command = CURL.match(lines[i])
        if not command:
            i += 1
            continue
        body = None
        if " -d '" in lines[i]:
            text = lines[i].split(" -d '", 1)[1]
            while text.count("'") == 0:
                i += 1
                text += "\n" + lines[i]
            body = text.split("'", 1)[0]
        i += 1
        answer = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith(("$", "```")):
            answer.append(lines[i])
            i += 1
        url = command["quoted"] or command["url"]
        assert url.startswith("localhost:11223/"), lines[i]
        found.append((command["method"], url, body, json.loads("\n".join(answer))))
    return found


def test_the_pages_commands_carry_no_token_to_copy():
    for method, url, body, _ in examples():
        assert not TOKEN.search(url + (body or "")), f"{method} {url}: a literal token"


def test_every_curl_of_the_page_works_with_its_placeholders_filled_in(api):
    create_superuser("boss", "boss@example.com", ADMIN_PASSWORD, Caller())
    answers: dict[str, Any] = {}

    def fill(placeholder: str) -> str:
        if placeholder == "<confirm_token from the sign-up>":
            return answers["signup"]["confirm_token"]
        if placeholder == "<ust from the log-in>":
            return answers["login"]["ust"]
        if placeholder == "<user_id from the queue>":
            return answers["signup?status=to-approve"][0]["user_id"]
        if placeholder == "<user_id of another pending sign-up>":
            api.post("/zato/sso/user/signup", signup_body(username="user2", email="u2@example.com"))
            queue = api.get(
                "/zato/sso/user/signup",
                {"status": "to-confirm", "ust": fill("<ust from the log-in>")},
            )
            return queue.json()[0]["user_id"]
        raise AssertionError(f"docs/api.md has a placeholder the test does not know: {placeholder}")

    ran = []
    for method, url, body, shown in examples():
        url = PLACEHOLDER.sub(lambda m: fill(m.group(0)), url)
        raw = PLACEHOLDER.sub(lambda m: fill(m.group(0)), body).encode() if body else None
        parts = urlsplit("http://" + url)
        response = api.call(
            method, parts.path + ("?" + parts.query if parts.query else ""), raw=raw
        )
        assert response.status_code == 200, (method, url, response.content)
        got = response.json()
        assert type(got) is type(shown)
        if isinstance(shown, dict):
            assert set(got) == set(shown) and got["status"] == shown["status"], (url, got)
        else:
            assert len(got) == len(shown) and all(
                set(g) == set(s) for g, s in zip(got, shown, strict=True)
            )
        key = parts.path.rsplit("/", 1)[1] + (
            "?" + parts.query.split("&")[0] if parts.query else ""
        )
        answers.setdefault(key, got)
        ran.append(f"{method} {parts.path}")
    assert ran[:4] == [
        "POST /zato/sso/user/signup",
        "POST /zato/sso/user/signup/confirm",
        "POST /zato/sso/user/login",
        "GET /zato/sso/user/signup",
    ]
    assert (
        "POST /zato/sso/user/signup/approve" in ran and "POST /zato/sso/user/signup/reject" in ran
    )


def test_the_seeds_approve_without_a_ust_is_refused_as_the_page_says(api):
    response = api.post("/zato/sso/user/signup/approve", {"user_id": "zusrqgh3au1pt4b7r5rz"})
    assert response.status_code == 400
    body = response.json()
    assert body["sub_status"] == ["E008003"]
    assert body["details"] == [{"field": "ust", "problem": "Field required"}]
    assert "admit answers `400` with `E008003`" in API_MD.read_text()
