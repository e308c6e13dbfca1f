"""Browser tests: real Chromium (Debian's ``chromium``, driven by Playwright) against a real
``admit serve`` whose e-mail worker delivers over SMTP to an in-process aiosmtpd server, and a
tiny remote server (``http.server``) that plays the self-hosted side of seeds 000/001.

Without Chromium or Playwright the tests are skipped, with the reason in pytest's summary
(``-rs``); in CI (``CI=true``) they fail instead, so a missing install step cannot hide."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from admit.remote.client import AdmitRemote, AdmitRemoteError
from tests.conftest import signup_body
from tests.live.conftest import ADMIT, LiveAdmit, _environment, free_port, stop
from tests.mail.conftest import Received, SmtpServer

ARTIFACTS = Path(__file__).parent / "artifacts"

# Flags that work on these machines (root, no GPU, no network but 127.0.0.1). Playwright adds
# a fresh, empty --user-data-dir of its own for each launch.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the browser tests)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, or the browser binary that ``CHROMIUM_PATH`` names."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        _missing(f"Chromium not installed ({path}): apt-get install chromium")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# ``@BOTH_SIZES`` runs a test on a desktop and on a phone-sized screen: its ``page`` (and
# ``viewport``, for the other contexts it opens) are that size.
BOTH_SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1000, "height": 700}


@pytest.fixture
def page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    """A page in a new browser context (its own cookies), 1000 px wide unless the test asks
    for ``viewport`` (``BOTH_SIZES``)."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``screenshot(page, "02-email-form")`` saves tests/e2e/artifacts/<test>/02-email-form.png."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()

    def take(page: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


BLOCKING = {"serious", "critical"}


@dataclass
class Audit:
    """Runs axe on a page, saves its screenshot, and keeps what axe found, per page."""

    screenshot: Any
    pages: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    advisory: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    too_wide: list[str] = field(default_factory=list)

    def check(self, page: Any, name: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        page.wait_for_load_state("load")
        self.fits(page, name)
        number = f"{len(self.pages) + 1:02d}-{name}"
        where = urlsplit(page.url)
        path = re.sub(r"[^/]{40,}", "<token>", where.path) + (f"?{where.query}" * bool(where.query))
        self.pages.append(f"{number} {path}")
        self.screenshot(page, number)
        response = Axe().run(page).response
        for violation in response["violations"]:
            line = f"{name}: {_describe(violation)}"
            (self.blocking if violation["impact"] in BLOCKING else self.advisory).append(line)
        # What axe could not decide (for example contrast over an image) is for a person.
        for check in response["incomplete"]:
            why = {c["message"] for node in check["nodes"] for c in node["any"] + node["all"]}
            self.review.append(f"{name}: {_describe(check)} ({'; '.join(sorted(why))})")

    def fits(self, page: Any, name: str) -> None:
        """The page is no wider than the viewport: nothing makes the page itself scroll
        sideways (a wide table may scroll inside its own box)."""
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.viewport_size["width"]
        if width > viewport:
            self.too_wide.append(f"{name}: {width} px wide in a {viewport} px viewport")

    def assert_clean(self) -> None:
        print(f"\naxe checked {len(self.pages)} pages:", *self.pages, sep="\n  ")
        if self.advisory:
            print("moderate/minor findings:", *self.advisory, sep="\n  ")
        if self.review:
            print("for a person to review (axe could not decide):", *self.review, sep="\n  ")
        assert not self.blocking, "serious/critical accessibility violations:\n  " + "\n  ".join(
            self.blocking + ["(moderate/minor, not failing:)", *self.advisory]
        )
        assert not self.too_wide, "pages wider than the viewport:\n  " + "\n  ".join(self.too_wide)


def _describe(result: dict[str, Any]) -> str:
    targets = ", ".join(" ".join(map(str, node["target"])) for node in result["nodes"][:5])
    return (
        f"{result['id']} [{result['impact']}] {result['help']}"
        f" — {len(result['nodes'])} node(s): {targets}"
    )


@dataclass
class Mailbox:
    """The SMTP server admit's e-mail worker delivers to."""

    server: SmtpServer

    def wait_for(self, address: str, timeout: float = 30) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.server.to(address)
            if received:
                return received[-1]
            time.sleep(0.1)
        raise AssertionError(f"no e-mail to {address} within {timeout} s")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    server = SmtpServer(free_port()).start()
    yield Mailbox(server)
    server.stop()


@pytest.fixture
def live_admit_smtp(tmp_path: Path, mailbox: Mailbox) -> Iterator[LiveAdmit]:
    """``admit serve`` (gunicorn + e-mail worker) that sends its e-mail to ``mailbox`` and
    writes links to itself. Its log is ``<tmp_path>/serve.log``."""
    port = free_port()
    yield from _serve(
        tmp_path,
        port,
        ADMIT_SMTP_URL=f"smtp://127.0.0.1:{mailbox.server.port}",
        ADMIT_EMAIL_FROM="admit <noreply@admit.test>",
    )


@pytest.fixture
def live_admit_debug(tmp_path: Path) -> Iterator[LiveAdmit]:
    """``admit serve`` as ``make run`` starts it: debug mode on, e-mail written to the data
    folder's outbox, readable at /dev/outbox (where the README sends people for their link)."""
    yield from _serve(tmp_path, free_port(), ADMIT_DEBUG="1")


def _serve(tmp_path: Path, port: int, **settings: str) -> Iterator[LiveAdmit]:
    env = _environment(tmp_path)
    env.update(ADMIT_BASE_URL=f"http://127.0.0.1:{port}", **settings)
    live = LiveAdmit(f"http://127.0.0.1:{port}", env, tmp_path)
    migrated = live.run("migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*ADMIT, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_up(live.url, server)
        yield live
    finally:
        stop(live, server)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"admit serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("admit serve did not answer within 60 s")


@dataclass
class RemoteServer:
    """The self-hosted server of the seed: its home page with a "Billing" menu item, and its
    ``/self-hosted-billing/`` entry point that asks admit for a log-in link and redirects."""

    url: str
    host: str
    uuid: str
    user: dict[str, str]
    realm: dict[str, str]
    errors: list[str]


class _RemoteHttpServer(ThreadingHTTPServer):
    remote: RemoteServer
    admit: AdmitRemote


class _RemoteHandler(BaseHTTPRequestHandler):
    server: _RemoteHttpServer

    def do_GET(self) -> None:
        remote, admit = self.server.remote, self.server.admit
        parts = urlsplit(self.path)
        if parts.path == "/":
            self._answer(200, HOME_PAGE.format(name=remote.realm["name"]))
        elif parts.path == "/self-hosted-billing/":
            next_page = parse_qs(parts.query).get("next_page", [None])[0]
            try:
                link = admit.login_link(
                    user=remote.user,
                    realm=remote.realm,
                    uri_scheme="http://",
                    next_page=next_page,
                )
            except AdmitRemoteError as error:
                remote.errors.append(str(error))
                self._answer(502, f"<h1>admit refused: {error.status}</h1>")
                return
            self.send_response(302)
            self.send_header("Location", link)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(404, "<h1>Not found</h1>")

    def _answer(self, status: int, html: str) -> None:
        body = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


HOME_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{name}</title></head>
<body style="font-family: sans-serif; margin: 2rem">
<h1>{name}</h1>
<nav aria-label="Gear menu"><ul>
<li><a href="/self-hosted-billing/?next_page=account">Billing</a></li>
</ul></nav>
</body></html>"""


@pytest.fixture
def remote_server(live_admit_smtp: LiveAdmit) -> Iterator[RemoteServer]:
    """A remote server registered in the live admit, serving on 127.0.0.1 (its realm's host,
    so admit's "go back to your server" links point here too)."""
    added = live_admit_smtp.run(
        "remote-servers", "add",
        "--hostname", "chat.example.com", "--contact-email", "ops@example.com", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    credentials = json.loads(added.stdout)
    httpd = _RemoteHttpServer(("127.0.0.1", 0), _RemoteHandler)
    host = f"127.0.0.1:{httpd.server_address[1]}"
    remote = RemoteServer(
        url=f"http://{host}",
        host=host,
        uuid=credentials["uuid"],
        user={
            "uuid": "7d4c1f0e-2b7a-4c55-9a3e-5f1f2d0b8a61",
            "email": "iago@chat.example.com",
            "full_name": "Iago",
        },
        realm={
            "uuid": "0b9f3a52-6d1e-4f4b-8c2a-3e7d9a1c5b20",
            "host": host,
            "name": "Zulip Dev",
        },
        errors=[],
    )
    httpd.remote = remote
    httpd.admit = AdmitRemote(live_admit_smtp.url, credentials["uuid"], credentials["key"])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield remote
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def sign_up_ann_confirmed_bob_not(live: LiveAdmit) -> None:
    """Two pending sign-ups through the API: ann has confirmed her address, bob has not."""
    body = signup_body(username="ann", email="ann@example.com")
    status, _, answer = live.call("POST", "/zato/sso/user/signup", body)
    assert status == 200, answer
    status, _, answer = live.call(
        "POST", "/zato/sso/user/signup/confirm", {"confirm_token": answer["confirm_token"]}
    )
    assert status == 200, answer
    body = signup_body(username="bob", email="bob@example.com")
    assert live.call("POST", "/zato/sso/user/signup", body)[0] == 200
