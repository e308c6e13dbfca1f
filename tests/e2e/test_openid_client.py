"""admit's OpenID Connect provider against a relying party nobody here wrote: panva's
``openid-client`` (npm, v6, pinned in tests/oidc/node/package-lock.json), driven by
tests/oidc/node/rp.mjs, with a person in real Chromium logging in on admit's page and allowing
the app on the consent page.

openid-client does the protocol's checks itself (discovery, PKCE S256, state, nonce, the ID
token's signature from the JWKS, iss, aud, exp, the UserInfo subject); a check it makes that
fails ends the script with an error, which fails the test. The test then asserts what the
script saw: whose ID token it is, UserInfo, refresh, introspection and revocation, and the
RP-initiated logout that ends the admit session.

openid-client is installed with ``npm ci`` from the lock file when tests/oidc/node/node_modules
is missing or differs from it. Without Node.js 20+ and npm the tests are skipped (failed in CI),
as the other browser tests are without Chromium."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import _missing, _serve
from tests.live.conftest import LiveAdmit, free_port

pytestmark = pytest.mark.e2e

NODE_PROJECT = Path(__file__).parents[1] / "oidc" / "node"
PASSWORD = "Correct-Horse-Battery-42"
STEP_TIMEOUT = 60  # seconds the script may take to say its next line


def _installed_matches_lock() -> bool:
    """node_modules holds exactly what package-lock.json names (npm's own record of what it
    installed, node_modules/.package-lock.json, lists the same packages and versions)."""
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return False

    def versions(path: Path) -> dict[str, str]:
        packages = json.loads(path.read_text())["packages"]
        return {name: p.get("version", "") for name, p in packages.items() if name}

    return versions(installed) == versions(NODE_PROJECT / "package-lock.json")


@pytest.fixture(scope="session")
def relying_party() -> list[str]:
    """The command that runs rp.mjs, with openid-client installed as the lock file says."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("Node.js 20+ and npm not installed (the openid-client relying party needs them)")
    assert node and npm
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(re.match(r"v(\d+)", version.stdout).group(1))  # type: ignore[union-attr]
    if major < 20:
        _missing(f"Node.js {version.stdout.strip()} is too old for openid-client v6 (20+)")
    if not _installed_matches_lock():
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(NODE_PROJECT), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode != 0:
            _missing(f"npm ci --prefix {NODE_PROJECT} failed:\n{installed.stderr[-2000:]}")
    return [node, str(NODE_PROJECT / "rp.mjs")]


@pytest.fixture(scope="module")
def live_admit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmit]:
    """``admit serve`` with a super-user, boss; its log is ``serve.log`` in its data folder.
    One for the module: each test registers a client of its own, and logs out at its end."""
    for live in _serve(tmp_path_factory.mktemp("admit"), free_port()):
        made = live.run(
            "createsuperuser", "--username", "boss", "--email", "boss@example.com",
            extra_env={"ADMIT_SUPERUSER_PASSWORD": PASSWORD},
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield live


@dataclass
class Registered:
    client_id: str
    secret: str
    redirect_uri: str
    post_logout_redirect_uri: str


def register(
    live: LiveAdmit, *, public: bool, algorithm: str, refresh_id_token: bool
) -> Registered:
    """A client of the app CRM that asks for consent, registered in the server's database as
    the operator's tools do (``admit.sso.oidc.clients.add_client``)."""
    port = free_port()  # where rp.mjs will listen
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    logout_uri = f"http://127.0.0.1:{port}/logged-out"
    made = live.python(
        "import json\n"
        "from admit.core.context import Caller\n"
        "from admit.sso.oidc.clients import add_client\n"
        f"new = add_client('CRM', [{redirect_uri!r}], Caller(),"
        f" post_logout_redirect_uris=({logout_uri!r},), public={public!r},"
        f" skip_consent=False, algorithm={algorithm!r}, refresh_id_token={refresh_id_token!r})\n"
        "print(json.dumps({'client_id': new.client.client_id, 'secret': new.secret}))\n"
    )
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert bool(answer["secret"]) is not public
    return Registered(answer["client_id"], answer["secret"], redirect_uri, logout_uri)


class Script:
    """rp.mjs running: its lines, one JSON object each, as they come."""

    def __init__(self, command: list[str], live: LiveAdmit, client: Registered, alg: str):
        options = {
            "issuer": live.url,
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "post_logout_redirect_uri": client.post_logout_redirect_uri,
            "id_token_signed_response_alg": alg,
        }
        env = {**os.environ, "RP_CLIENT_SECRET": client.secret}
        self.process = subprocess.Popen(
            [*command, json.dumps(options)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def next(self, step: str) -> dict[str, Any]:
        """The script's next line, which must be ``step``: an error or silence fails the test
        with what the script said."""
        try:
            line = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"rp.mjs said nothing within {STEP_TIMEOUT} s") from None
        if not line:
            self.process.wait(timeout=10)
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(
                f"rp.mjs ended ({self.process.returncode}) before {step}: {stderr}"
            )
        message = json.loads(line)
        assert message["step"] == step, message
        return message

    def stop(self) -> None:
        """Lets the script end on its own (it exits after its last line), else ends it."""
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# public, algorithm, a new ID token from every refresh (``--refresh-id-token``)
CASES = {
    "public-RS256": (True, "RS256", False),
    "confidential-RS256": (False, "RS256", False),
    "confidential-ES256-refresh-id-token": (False, "ES256", True),
}


@pytest.mark.parametrize("case", CASES)
def test_openid_client_signs_in_refreshes_and_logs_out(case, page, live_admit, relying_party):
    from playwright.sync_api import expect

    public, algorithm, refresh_id_token = CASES[case]
    admit = live_admit.url
    client = register(
        live_admit, public=public, algorithm=algorithm, refresh_id_token=refresh_id_token
    )
    script = Script(relying_party, live_admit, client, algorithm)
    try:
        # The app sends the person to admit, which asks them to log in, then whether to allow
        # the app; they end on the app's page, signed in.
        authorize = script.next("authorize")["url"]
        assert authorize.startswith(admit + "/oidc/authorize/?")
        page.goto(authorize)
        expect(page).to_have_url(re.compile(re.escape(admit) + r"/login/\?app=CRM&next="))
        page.get_by_label("Username").fill("boss")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Allow CRM to use your account?")).to_be_visible()
        page.get_by_role("button", name="Allow", exact=True).click()
        expect(page.get_by_role("heading", name="Signed in as boss")).to_be_visible()
        assert page.url.startswith(client.redirect_uri + "?")

        # The app logs the person out: admit ends the session, and sends them back to the app.
        end_session = script.next("end_session")["url"]
        assert end_session.startswith(admit + "/oidc/logout/?")
        page.goto(end_session)
        expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
        seen = script.next("result")
    finally:
        script.stop()
    assert script.process.returncode == 0
    print("rp.mjs saw:", json.dumps(seen, indent=1))  # shown when an assertion below fails

    user_id = _user_id(live_admit, "boss")
    claims = seen["claims"]
    assert claims["sub"] == user_id
    assert claims["iss"] == admit
    assert claims["aud"] == client.client_id or claims["aud"] == [client.client_id]
    assert claims["nonce"] == seen["nonce_sent"]  # and openid-client compared them
    assert claims["email"] == "boss@example.com"
    assert claims["preferred_username"] == "boss"
    assert claims["acr"] == "1"  # a password, no second factor
    assert claims["amr"] == ["pwd"]
    assert seen["id_token_alg"] == algorithm  # from the ID token's header: what admit signed with
    assert seen["callback_iss"] == admit  # RFC 9207: the callback names its issuer
    assert seen["userinfo"]["sub"] == user_id
    assert seen["userinfo"]["email"] == "boss@example.com"
    assert seen["userinfo"]["preferred_username"] == "boss"

    refresh = seen["refresh"]
    assert refresh["new_access_token"] and refresh["new_refresh_token"]
    if refresh_id_token:
        assert refresh["id_token"] and refresh["id_token_sub"] == user_id
        assert refresh["id_token_alg"] == algorithm
    else:  # the app keeps the log-in's, and logs out with it below
        assert not refresh["id_token"] and refresh["id_token_sub"] is None

    if not public:
        # A refresh replaces the access token: the old one is dead at once.
        assert seen["introspection_replaced"] == {"active": False}
        assert seen["introspection_before"]["active"] is True
        assert seen["introspection_before"]["sub"] == user_id
        assert seen["introspection_before"]["client_id"] == client.client_id
        assert seen["introspection_after"] == {"active": False}
    assert seen["userinfo_after_revocation"]["status"] == 401
    assert seen["userinfo_after_revocation"]["www_authenticate"].startswith(
        'Bearer error="invalid_token"'
    )

    assert seen["logout"] == {"landed_on": client.post_logout_redirect_uri, "state_matched": True}
    assert seen["refresh_after_logout"]["error"] == "invalid_grant"
    # The browser's admit session is gone: the account page asks it to log in again.
    page.goto(admit + "/account/")
    expect(page).to_have_url(re.compile(re.escape(admit) + r"/login/"))


def _user_id(live: LiveAdmit, username: str) -> str:
    found = live.python(
        "from admit.sso.models import User\n"
        f"print(User.objects.get(username={username!r}).user_id)\n"
    )
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()
