"""The remote side: ``admit.remote.client`` played by a self-hosted server against a real
``admit serve`` (the ``live_admit`` fixture), and its ready entry-point view."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
import uuid
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from admit.remote import tokens
from admit.remote.client import AdmitRemote, AdmitRemoteError, entry_point_view
from tests.live.conftest import LiveAdmit

USER = {"uuid": str(uuid.uuid4()), "email": "ada@chat.example.com", "full_name": "Ada Admin"}
REALM = {"uuid": str(uuid.uuid4()), "host": "chat.example.com", "name": "Example Chat"}


def registered(live: LiveAdmit) -> tuple[str, str]:
    made = live.run(
        "remote-servers", "add", "--hostname", "h", "--contact-email", "e@example.com", "--json"
    )
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    return answer["uuid"], answer["key"]


def on_live(live: LiveAdmit, url: str) -> str:
    """The live server's own address for a URL admit built. The ``live_admit`` fixture does
    not set ADMIT_BASE_URL, so admit writes its links with the default base URL; the path
    is what matters here."""
    parts = urlsplit(url)
    return live.url + parts.path + (f"?{parts.query}" if parts.query else "")


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (a test URL)
        return response.status, response.read().decode()


def token_of(live: LiveAdmit, url: str) -> tokens.Identity:
    token = urlsplit(url).path.removeprefix("/remote-login/").removesuffix("/")
    payload = signing.loads(token, key=live.env["ADMIT_SECRET_KEY"], salt=tokens.SALT)
    return tokens.Identity(**payload)


def realms_on(live: LiveAdmit) -> list[dict]:
    code = (
        "import json\n"
        "from admit.remote.models import RemoteRealm\n"
        "print(json.dumps([{'uuid': str(r.uuid), 'host': r.host, 'name': r.name,"
        " 'server': str(r.server.uuid)} for r in RemoteRealm.objects.order_by('host')]))\n"
    )
    ran = live.python(code)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.strip().splitlines()[-1])


def test_client_against_a_live_admit(live_admit):
    server_uuid, key = registered(live_admit)
    remote = AdmitRemote(live_admit.url, server_uuid, key)

    second = {"uuid": str(uuid.uuid4()), "host": "team.example.com", "name": "Team"}
    assert remote.register(version="9.1", realms=[REALM, second]) == 2
    realms = realms_on(live_admit)
    assert [(realm["host"], realm["server"]) for realm in realms] == [
        ("chat.example.com", server_uuid),
        ("team.example.com", server_uuid),
    ]

    url = remote.login_link(user=USER, realm=REALM, next_page="account")
    assert urlsplit(url).path.startswith("/remote-login/")
    identity = token_of(live_admit, url)
    assert (identity.server_uuid, identity.realm_uuid, identity.user_uuid) == (
        server_uuid,
        REALM["uuid"],
        USER["uuid"],
    )
    assert identity.next_page == "account"
    status, page = fetch(on_live(live_admit, url))
    assert status == 200 and "Log in for the first time" in page
    assert 'value="ada@chat.example.com"' in page  # the e-mail form, pre-filled

    # Errors come back as AdmitRemoteError with admit's status and envelope.
    with pytest.raises(AdmitRemoteError) as refused:
        remote.login_link(user=USER, realm=REALM, next_page="nowhere")
    assert refused.value.status == 400 and refused.value.body["status"] == "error"

    wrong = AdmitRemote(live_admit.url, server_uuid, key + "x")
    with pytest.raises(AdmitRemoteError) as unauthorized:
        wrong.login_link(user=USER, realm=REALM)
    assert unauthorized.value.status == 401
    assert unauthorized.value.body["status"] == "error"
    assert unauthorized.value.body["sub_status"] == ["E005001"]
    with pytest.raises(AdmitRemoteError) as unregistered:
        wrong.register(version="9.1", realms=[REALM])
    assert unregistered.value.status == 401

    # Another server may not claim these realms.
    other_uuid, other_key = registered(live_admit)
    with pytest.raises(AdmitRemoteError) as taken:
        AdmitRemote(live_admit.url, other_uuid, other_key).register("1", realms=[REALM])
    assert taken.value.status == 403

    # The entry point of the self-hosted server: the admin lands on admit's e-mail form.
    view = entry_point_view(remote, lambda request: (USER, REALM))
    request = RequestFactory().get("/self-hosted-billing/", {"next_page": "overview"})
    response = view(request)
    assert response.status_code == 302
    assert token_of(live_admit, response["Location"]).next_page == "overview"
    status, page = fetch(on_live(live_admit, response["Location"]))
    assert status == 200 and 'value="ada@chat.example.com"' in page

    # An error admit answers that is not JSON (a wrong base URL) is still AdmitRemoteError.
    lost = AdmitRemote(live_admit.url + "/nowhere", server_uuid, key)
    with pytest.raises(AdmitRemoteError) as not_found:
        lost.login_link(user=USER, realm=REALM)
    assert not_found.value.status == 404


class Recorder(AdmitRemote):
    """The client with its HTTP call replaced: what the entry point asks admit for."""

    def __init__(self) -> None:
        super().__init__("https://admit.example.com", str(uuid.uuid4()), "zsrvkey")
        self.calls: list[tuple[str, dict]] = []

    def _post(self, path: str, body: dict) -> dict:
        self.calls.append((path, body))
        return {"login_url": "https://admit.example.com/remote-login/signed/"}


@pytest.mark.parametrize(
    ("query", "secure", "next_page", "scheme"),
    [
        ({"next_page": "billing"}, True, "billing", "https://"),
        ({}, False, None, "http://"),
        ({"next_page": ""}, True, None, "https://"),
    ],
)
def test_entry_point_view_redirects_to_the_link_and_passes_next_page(
    query, secure, next_page, scheme
):
    recorder = Recorder()
    view = entry_point_view(recorder, lambda request: (USER, REALM))
    request = RequestFactory().get("/self-hosted-billing/", query, secure=secure)
    response = view(request)
    assert response.status_code == 302
    assert response["Location"] == "https://admit.example.com/remote-login/signed/"
    assert recorder.calls == [
        (
            "server/login-link",
            {"user": USER, "realm": REALM, "uri_scheme": scheme, "next_page": next_page},
        )
    ]


def test_entry_point_view_lets_identify_refuse():
    recorder = Recorder()

    def not_an_admin(request):
        raise PermissionDenied

    view = entry_point_view(recorder, not_an_admin)
    with pytest.raises(PermissionDenied):
        view(RequestFactory().get("/self-hosted-billing/"))
    assert recorder.calls == []


def test_client_refuses_a_base_url_without_http():
    with pytest.raises(ValueError, match="https://"):
        AdmitRemote("file:///etc/passwd", str(uuid.uuid4()), "zsrvkey")


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Something in front of admit answering with its own HTML page."""

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        status = int(self.path.split("/")[1])
        body = b"<html><body>Bad Gateway</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [200, 502])
def test_an_answer_that_is_not_admits_raises_admit_remote_error(status):
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        remote = AdmitRemote(
            f"http://127.0.0.1:{proxy.server_address[1]}/{status}", str(uuid.uuid4()), "zsrvkey"
        )
        with pytest.raises(AdmitRemoteError) as refused:
            remote.login_link(user=USER, realm=REALM)
        assert refused.value.status == status
        assert "Bad Gateway" in refused.value.body["text"]
    finally:
        proxy.shutdown()
        proxy.server_close()
