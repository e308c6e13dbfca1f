"""A real ``admit serve`` (gunicorn, two worker processes, an e-mail worker) on a free port,
with its own data folder, database and cache, for tests that cross process boundaries."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ADMIT = [sys.executable, "-m", "admit.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveAdmit:
    url: str
    env: dict[str, str]
    data_dir: Path

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return (
                    response.status,
                    dict(response.headers),
                    json.loads(response.read() or b"null"),
                )
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*ADMIT, *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def python(self, code: str) -> subprocess.CompletedProcess:
        """Run ``code`` in a separate process configured like the server."""
        setup = (
            "import django, os\n"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'admit.settings'\n"
            "django.setup()\n"
        )
        return subprocess.run(
            [sys.executable, "-c", setup + code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


# Fixed windows roll over at multiples of their length; a window of ~30 years does not roll
# over in the middle of a test.
TEST_POLICY = """
[rate_limits]
login_failures_per_address = [10, 1000000000]
"""


def _environment(data_dir: Path, redis_url: str = "") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    (data_dir / "admit.toml").write_text(TEST_POLICY)
    env.update(
        ADMIT_DATA_DIR=str(data_dir),
        ADMIT_SECRET_KEY="live-test-" + "k" * 40,
        ADMIT_LOG_LEVEL="WARNING",
    )
    if os.environ.get("ADMIT_DATABASE_URL", "").startswith("postgres"):
        # A database of its own on the same server, so the suite's test database is untouched.
        env["ADMIT_DATABASE_URL"] = _fresh_postgres_database(
            os.environ["ADMIT_DATABASE_URL"], data_dir.name
        )
    if redis_url:
        env["ADMIT_REDIS_URL"] = redis_url
    return env


def _fresh_postgres_database(url: str, suffix: str) -> str:
    import psycopg

    base, _, _ = url.rpartition("/")
    name = "admit_live_" + "".join(char for char in suffix.lower() if char.isalnum())[-20:]
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def start(
    tmp_path: Path, redis_url: str = "", **settings: str
) -> tuple[LiveAdmit, subprocess.Popen]:
    """A migrated ``admit serve`` on a free port; ``settings`` add or replace ``ADMIT_*``
    variables (``ADMIT_BASE_URL`` defaults to the server's own plain-HTTP address)."""
    port = free_port()
    env = {
        **_environment(tmp_path, redis_url),
        "ADMIT_BASE_URL": f"http://127.0.0.1:{port}",
        **settings,
    }
    live = LiveAdmit(f"http://127.0.0.1:{port}", env, tmp_path)
    migrated = live.run("migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    server = subprocess.Popen(
        [*ADMIT, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            # /health: answered over plain HTTP even where the pages redirect to https
            with urllib.request.urlopen(live.url + "/health", timeout=2):
                return live, server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise AssertionError("admit serve did not answer within 60 s")


def stop(live: LiveAdmit, server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    url = live.env.get("ADMIT_DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, name = url.rpartition("/")
        with psycopg.connect(base + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def live_admit(tmp_path):
    live, server = start(tmp_path)
    yield live
    stop(live, server)
