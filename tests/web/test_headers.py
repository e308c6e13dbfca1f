"""Security headers: a strict Content-Security-Policy that the pages live within, and
`admit manage check --deploy` clean for an https deployment (HSTS and the redirect to https
against a real server: tests/live/test_headers_live.py)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.console.conftest import web_client
from tests.remote.conftest import known_user, log_in, login_path, server  # noqa: F401

STRICT = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
}


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


class InlineCode(HTMLParser):
    """What a page has that a policy without 'unsafe-inline' blocks, or that loads from
    elsewhere: inline scripts, <style>, style="" and on...="" attributes, javascript: URLs,
    and scripts, stylesheets and images that are not admit's own."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            code = values.get("type") not in ("application/json", "application/ld+json")
            if "src" not in values and code:
                self.found.append("inline <script>")
        url = values.get("src") if tag in ("script", "img") else None
        if tag == "link" and values.get("rel") in ("stylesheet", "icon"):
            url = values.get("href")
        if url and (not url.startswith("/") or url.startswith("//")):
            self.found.append(f"<{tag}> from {url}")


def blocked_by_the_policy(html: bytes) -> list[str]:
    parser = InlineCode()
    parser.feed(html.decode())
    return parser.found


@pytest.fixture
def pages(db, client, admin_ust, server):  # noqa: F811
    """Every kind of page, as the people who see it get it."""
    rendered = {path: client.get(path) for path in ("/", "/signup/", "/login/", "/password/reset/")}
    rendered["/confirm/<bad key>/"] = client.get("/confirm/zcntnotakey/")
    signed_in = web_client(admin_ust)
    for path in (
        "/account/",
        "/account/totp/",
        "/console/",
        "/console/queue/",
        "/console/users/",
        "/console/audit/",
        "/console/remote/",
    ):
        rendered[path] = signed_in.get(path)
    known_user(client, server, full_name="Ada Admin")
    rendered["/remote-login/<token>/ (Confirm login)"] = client.get(login_path(client, server))
    assert log_in(client, server).status_code == 302
    for path in ("/portal/", "/portal/account/"):
        rendered[path] = client.get(path)
    return rendered


def test_every_page_has_a_strict_content_security_policy(pages):
    for path, response in pages.items():
        assert response.status_code < 500, (path, response.status_code)
        assert policy_of(response) == STRICT, path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Frame-Options"] == "DENY", path


def test_the_pages_need_nothing_the_policy_blocks(pages):
    """No page relies on inline script or style, or on another origin: under the policy above
    every page renders and works as it did without it (Chromium: tests/e2e)."""
    assert b"<svg" in pages["/account/totp/"].content  # the QR code: inline SVG, not an image
    for path, response in pages.items():
        assert blocked_by_the_policy(response.content) == [], path


def test_the_api_docs_run_from_admits_own_files(client):
    """Swagger UI from django-ninja's static files (no CDN); its stylesheet draws icons as
    data: images, which that page alone allows."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert policy_of(response) == {**STRICT, "img-src": ["'self'", "data:"]}
    assert b"swagger-ui-bundle.js" in response.content
    assert blocked_by_the_policy(response.content) == []


def test_api_answers_carry_the_policy_too(client):
    assert policy_of(client.get("/health")) == STRICT
    assert policy_of(client.get("/api/openapi.json")) == STRICT


def test_sso_api_answers_are_neither_sniffed_nor_framed(api):
    """The cookie-less JSON API skips the policy (admit.http.headers), not the other headers."""
    answer = api.get("/zato/sso/user/session", {"ust": "zust" + "0" * 32, "current_app": "CRM"})
    assert answer["Content-Type"] == "application/json"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["X-Frame-Options"] == "DENY"


CHECK_DEPLOY = ["manage", "check", "--deploy", "--fail-level", "WARNING"]


def _check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    environment.update(
        {
            "ADMIT_DATA_DIR": str(tmp_path),
            "ADMIT_SECRET_KEY": secrets.token_urlsafe(48),
            "ADMIT_BASE_URL": "https://admit.example.com",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "admit.cli", *CHECK_DEPLOY],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_for_an_https_deployment_behind_its_proxy(tmp_path):
    checked = _check_deploy(tmp_path, ADMIT_TRUSTED_PROXY="127.0.0.1")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_check_deploy_says_https_is_not_enforced_without_a_trusted_proxy(tmp_path):
    """Without ADMIT_TRUSTED_PROXY admit cannot tell which requests came over TLS, so it does
    not redirect to https (that would loop behind the proxy); the check says so, and only so."""
    checked = _check_deploy(tmp_path)
    assert checked.returncode != 0
    assert "security.W008" in checked.stderr
    assert checked.stderr.count("security.W") == 1, checked.stderr


def test_check_deploy_flags_a_plain_http_deployment(tmp_path):
    checked = _check_deploy(tmp_path, ADMIT_BASE_URL="http://admit.example.com")
    assert checked.returncode != 0
    for missing in ("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE"):
        assert missing in checked.stderr


def test_the_api_envelope_for_djangos_own_refusals_keeps_the_security_headers(client):
    """An unknown API path is Django's 404, which admit answers in its JSON envelope; the
    envelope keeps what the security middleware set on the answer it replaces."""
    response = client.get("/zato/sso/no-such-call")
    assert response.status_code == 404 and response.json()["status"] == "error"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
