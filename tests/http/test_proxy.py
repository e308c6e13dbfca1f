"""Behind a reverse proxy: ADMIT_TRUSTED_PROXY, X-Forwarded-For and X-Forwarded-Proto."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import Client

from admit.audit.models import AuditEvent
from admit.config import ConfigError, load_deployment
from admit.http.proxy import forwarded_client
from tests.conftest import signup_body

PROXY = "10.0.0.5"
PROXIES = (ipaddress.ip_network("10.0.0.5"), ipaddress.ip_network("192.168.0.0/16"))
WRONG = {"username": "nobody", "password": "wrong password", "current_app": "CRM"}


@pytest.fixture
def behind_proxy(settings):
    """admit configured with ADMIT_TRUSTED_PROXY=10.0.0.5,192.168.0.0/16."""
    settings.ADMIT_TRUSTED_PROXIES = PROXIES
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def failed_login_address(client: Client, **headers: str) -> str | None:
    """The address the audit log records for a failed log-in sent through ``client``."""
    response = client.post(
        "/zato/sso/user/login", WRONG, content_type="application/json", headers=headers
    )
    assert response.status_code in (401, 403), response.content
    return AuditEvent.objects.order_by("-id").values_list("remote_ip", flat=True).first()


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.5", "203.0.113.7"),  # our proxy appended itself
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left-most is the client's word
        ("198.51.100.1, 203.0.113.7, 192.168.4.4", "203.0.113.7"),  # through two of ours
        ("203.0.113.7:4711", "203.0.113.7"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("192.168.1.1, 10.0.0.5", "192.168.1.1"),  # only our proxies: the first one
        ("unknown", None),
        ("203.0.113.7, not-an-address", None),
        ("", None),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(header, client):
    assert forwarded_client(header, PROXIES) == client


@pytest.mark.django_db
def test_the_audit_log_records_the_client_behind_a_trusted_proxy(behind_proxy):
    proxy = client_from(PROXY)
    assert failed_login_address(proxy, x_forwarded_for="203.0.113.7") == "203.0.113.7"
    inner = client_from("192.168.7.7")
    assert failed_login_address(inner, x_forwarded_for="198.51.100.9") == "198.51.100.9"


@pytest.mark.django_db
def test_a_forwarded_for_header_from_anyone_else_is_ignored(behind_proxy):
    stranger = client_from("203.0.113.50")
    assert failed_login_address(stranger, x_forwarded_for="198.51.100.1") == "203.0.113.50"


@pytest.mark.django_db
def test_a_garbled_forwarded_for_keeps_the_proxy_address(behind_proxy):
    proxy = client_from(PROXY)
    assert failed_login_address(proxy, x_forwarded_for="<script>") == PROXY
    assert failed_login_address(proxy) == PROXY


@pytest.mark.django_db
def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.ADMIT_TRUSTED_PROXIES = ()
    proxy = client_from(PROXY)
    assert failed_login_address(proxy, x_forwarded_for="203.0.113.7") == PROXY


@pytest.mark.django_db
def test_rate_limits_count_each_client_behind_the_proxy_apart(behind_proxy, policy):
    policy(rate_limits={"signups_per_address": (1, 3600)})
    proxy = client_from(PROXY)

    def sign_up(name: str, client_address: str) -> int:
        body = signup_body(username=name, email=f"{name}@example.com")
        return proxy.post(
            "/zato/sso/user/signup",
            body,
            content_type="application/json",
            headers={"x-forwarded-for": client_address},
        ).status_code

    assert sign_up("ann", "203.0.113.7") == 200
    assert sign_up("bob", "203.0.113.7") == 429
    assert sign_up("cid", "203.0.113.8") == 200


def test_only_a_trusted_proxy_can_say_the_request_came_over_https(behind_proxy):
    behind_proxy.SECURE_SSL_REDIRECT = True
    forwarded = {"x-forwarded-proto": "https"}
    assert client_from(PROXY).get("/login/", headers=forwarded).status_code == 200
    stranger = client_from("203.0.113.50").get("/login/", headers=forwarded)
    assert stranger.status_code == 301
    assert stranger["Location"] == "https://testserver/login/"


@pytest.mark.parametrize(
    "value",
    ["10.0.0.1/24", "proxy.example.com", "*", "10.0.0.1;10.0.0.2", "256.0.0.1"],
)
def test_a_bad_trusted_proxy_stops_the_start_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match="ADMIT_TRUSTED_PROXY") as raised:
        load_deployment({"ADMIT_DATA_DIR": str(tmp_path), "ADMIT_TRUSTED_PROXY": value})
    assert repr(value) in str(raised.value)


def test_trusted_proxies_are_addresses_and_networks(tmp_path):
    deployment = load_deployment(
        {"ADMIT_DATA_DIR": str(tmp_path), "ADMIT_TRUSTED_PROXY": " 10.0.0.5, 172.16.0.0/12,::1,"}
    )
    assert [str(network) for network in deployment.trusted_proxies] == [
        "10.0.0.5/32",
        "172.16.0.0/12",
        "::1/128",
    ]
    assert load_deployment({"ADMIT_DATA_DIR": str(tmp_path)}).trusted_proxies == ()


@pytest.mark.parametrize("path", ["/zato/sso/user/session", "/api/openapi.json"])
def test_an_api_call_with_an_overlong_query_string_gets_414_in_the_envelope(client, path):
    response = client.get(f"{path}?ust={'a' * 6000}")
    assert response.status_code == 414
    body = response.json()
    assert body["status"] == "error" and body["sub_status"] == ["E008002"]
    assert body["details"] == [
        {"field": "request", "problem": "query string longer than 4096 bytes"}
    ]
    assert response["X-Correlation-ID"] == body["cid"]


def test_an_api_query_string_of_4096_bytes_is_served(client):
    query = "x=" + "a" * 4094
    assert client.get(f"/api/openapi.json?{query}").status_code == 200


@pytest.mark.django_db
def test_pages_are_not_held_to_the_api_limit(client):
    assert client.get(f"/login/?x={'a' * 6000}").status_code == 200
