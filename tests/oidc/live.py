"""What the tests of real relying parties share: a client registered in a live ``admit serve``
(tests/live/conftest.py starts it), and the mozilla-django-oidc site of tests/oidc/rp_site/
run as a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.live.conftest import LiveAdmit

ROOT = Path(__file__).resolve().parents[2]
DJANGO_ADMIN = [sys.executable, "-m", "django"]


@dataclass(frozen=True)
class Registered:
    client_id: str
    secret: str


def register_client(
    live: LiveAdmit,
    redirect_uri: str,
    post_logout_redirect_uri: str = "",
    app: str = "CRM",
    skip_consent: bool = False,
) -> Registered:
    """A confidential client of ``app`` registered in ``live``'s database, as the operator's
    tools do (``admit.sso.oidc.clients.add_client``); its secret is shown once, here."""
    logout = (post_logout_redirect_uri,) if post_logout_redirect_uri else ()
    made = live.python(
        "import json\n"
        "from admit.core.context import Caller\n"
        "from admit.sso.oidc import clients\n"
        f"new = clients.add_client({app!r}, [{redirect_uri!r}], Caller(),"
        f" post_logout_redirect_uris={logout!r}, skip_consent={skip_consent!r})\n"
        "print(json.dumps({'client_id': new.client.client_id, 'secret': new.secret}))\n"
    )
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout.strip().splitlines()[-1])
    return Registered(answer["client_id"], answer["secret"])


@dataclass(frozen=True)
class RpSite:
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def rp_site(tmp_path: Path, live: LiveAdmit, client: Registered, port: int) -> Iterator[RpSite]:
    """tests/oidc/rp_site served by ``django-admin runserver`` on ``port``, with its own SQLite
    file, logging in through ``live``."""
    folder = tmp_path / "rp-site"
    folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ADMIT_", "DJANGO_SETTINGS"))
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        DJANGO_SETTINGS_MODULE="tests.oidc.rp_site.settings",
        RP_SITE_ADMIT=live.url,
        RP_SITE_DB=str(folder / "site.sqlite3"),
        RP_SITE_CLIENT_ID=client.client_id,
        RP_SITE_CLIENT_SECRET=client.secret,
    )
    migrated = subprocess.run(
        [*DJANGO_ADMIN, "migrate", "--verbosity", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    log_path = folder / "runserver.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*DJANGO_ADMIN, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        site = RpSite(f"http://127.0.0.1:{port}", log_path)
        try:
            _wait_until_up(site, server)
            yield site
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


def _wait_until_up(site: RpSite, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the site exited with {server.returncode}:\n{site.tail()}")
        try:
            with urllib.request.urlopen(site.url + "/logged-out/", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the site did not answer within 60 s:\n{site.tail()}")
