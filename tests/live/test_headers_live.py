"""A real ``admit serve`` deployed for https behind a TLS proxy (ADMIT_BASE_URL=https://...,
ADMIT_TRUSTED_PROXY=127.0.0.1; the test plays the proxy): HSTS, the redirect to https, the
client's address from X-Forwarded-For, and gunicorn's request-line limit on API paths."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.live.conftest import LiveAdmit, start, stop

FROM_TLS = {"X-Forwarded-Proto": "https"}  # what the proxy adds to what came in over TLS


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def https_admit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmit]:
    live, server = start(
        tmp_path_factory.mktemp("https"),
        ADMIT_BASE_URL="https://admit.example.com",
        ADMIT_TRUSTED_PROXY="127.0.0.1",
    )
    try:
        yield live
    finally:
        stop(live, server)


def fetch(
    live: LiveAdmit, target: str, method: str = "GET", source: str = "127.0.0.1", **headers: str
) -> Answer:
    """One request as written, from ``source`` (127.0.0.1 is the proxy; any 127.x address
    reaches the server), redirects not followed; status 0 while nothing listens."""
    host, port = live.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(source, 0))
    try:
        connection.request(method, target, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    except OSError:
        return Answer(0, http.client.HTTPMessage(), b"")
    finally:
        connection.close()


def test_pages_that_came_over_tls_get_hsts_and_the_policy(https_admit):
    answer = fetch(https_admit, "/login/", **FROM_TLS)
    assert answer.status == 200
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "Secure" in answer.headers["Set-Cookie"]  # the CSRF cookie


def test_plain_http_is_redirected_to_https_but_health_is_not(https_admit):
    answer = fetch(https_admit, "/login/?next=/account/")
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{https_admit.url[7:]}/login/?next=/account/"
    assert "Strict-Transport-Security" not in answer.headers  # only ever sent over TLS
    assert fetch(https_admit, "/health").status == 200  # load balancers probe over plain HTTP


def test_a_client_that_is_not_the_proxy_cannot_claim_tls(https_admit):
    answer = fetch(https_admit, "/login/", source="127.0.0.2", **FROM_TLS)
    assert answer.status == 301 and answer.headers["Location"].startswith("https://")


def test_the_audit_log_sees_the_client_behind_the_proxy(https_admit):
    wrong = {"username": "nobody", "password": "wrong password", "current_app": "CRM"}
    connection = http.client.HTTPConnection(https_admit.url[7:], timeout=30)
    connection.request(
        "POST",
        "/zato/sso/user/login",
        body=json.dumps(wrong),
        headers={**FROM_TLS, "X-Forwarded-For": "203.0.113.7", "Content-Type": "application/json"},
    )
    assert connection.getresponse().status in (401, 403)
    connection.close()
    done = https_admit.python(
        "from admit.audit.models import AuditEvent\n"
        "print(AuditEvent.objects.order_by('-id').values_list('remote_ip', flat=True)[0])\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "203.0.113.7"


def test_an_overlong_query_string_on_the_api_gets_the_json_envelope(https_admit):
    """gunicorn would answer a request line over 4094 bytes with its own HTML 414."""
    answer = fetch(https_admit, f"/zato/sso/user/session?ust={'a' * 6000}", **FROM_TLS)
    assert answer.status == 414
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert body["status"] == "error" and body["sub_status"] == ["E008002"]
    assert body["details"] == [
        {"field": "request", "problem": "query string longer than 4096 bytes"}
    ]
