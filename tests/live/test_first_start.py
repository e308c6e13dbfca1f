"""What ``admit serve`` says when it starts: where it listens (only once it does), how to make
the first super-user or, once there is one, where super-users approve sign-ups; and a taken
port said once, plainly."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import urllib.request
import uuid

import pytest

from tests.live.conftest import ADMIT, _environment

ADMIN_PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture
def env(tmp_path):
    """A migrated data folder (and, on PostgreSQL, a database of its own, dropped after)."""
    env = _environment(tmp_path)
    migrated = subprocess.run([*ADMIT, "migrate", "--verbosity", "0"], env=env, timeout=120)
    assert migrated.returncode == 0
    yield env
    url = env.get("ADMIT_DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, name = url.rpartition("/")
        with psycopg.connect(base + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def banner(env: dict[str, str], workers: int = 1) -> list[str]:
    """The lines ``admit serve`` prints on a port of its own choosing; the server
    answers at the address the first line names as soon as that line is printed."""
    server = subprocess.Popen(
        [*ADMIT, "serve", "--bind", "127.0.0.1:0", "--workers", str(workers), "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        first = server.stdout.readline()
        assert first.startswith("admit is serving on http://127.0.0.1:"), first
        url = first.split()[4]
        with urllib.request.urlopen(url + "/health", timeout=60) as answer:
            assert answer.status == 200
        lines = [first.rstrip("\n")]
        while not lines[-1].startswith(("API documentation", "admit:")) and len(lines) < 5:
            lines.append(server.stdout.readline().rstrip("\n"))
        return lines
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()


def test_the_banner_tells_how_to_make_the_first_superuser_then_where_to_approve(env, tmp_path):
    lines = banner(env, workers=1)
    url = lines[0].split()[4]
    assert lines[0] == f"admit is serving on {url} with 1 worker (data in {tmp_path.resolve()})."
    assert lines[1:] == [
        "No super-user yet: create the first with  admit createsuperuser",
        f"Super-users then approve sign-ups at {url}/console/",
        f"API documentation: {url}/api/docs",
    ]

    made = subprocess.run(
        [*ADMIT, "createsuperuser", "--username", "boss", "--email", "boss@example.com"],
        env={**env, "ADMIT_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr

    lines = banner({**env, "ADMIT_BASE_URL": "https://sso.example.com"}, workers=2)
    assert " with 2 workers " in lines[0]
    assert "createsuperuser" not in "\n".join(lines)
    assert lines[1:] == [
        "Super-users approve sign-ups at https://sso.example.com/console/",
        "API documentation: https://sso.example.com/api/docs",
    ]


def test_a_taken_port_is_said_once_and_serve_exits_non_zero(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = subprocess.run(
            [*ADMIT, "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert started.returncode == 1
    assert started.stdout == ""  # no "serving on" for an address it does not have
    assert started.stderr == (
        f"admit: cannot serve on 127.0.0.1:{port}: the address is taken; another program"
        " (perhaps another admit serve) is listening there. Stop it, or choose another address"
        " with --bind or ADMIT_BIND\n"
    )


def test_without_a_base_url_links_name_the_address_served(env):
    """`serve --bind` on another port than the default: the links admit makes lead there."""
    server = subprocess.Popen(
        [*ADMIT, "serve", "--bind", "127.0.0.1:0", "--workers", "1", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        url = server.stdout.readline().split()[4]
        added = subprocess.run(
            [*ADMIT, "remote-servers", "add", "--hostname", "chat.example.com"]
            + ["--contact-email", "ops@example.com", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        made = json.loads(added.stdout)
        body = {
            "user": {"uuid": str(uuid.uuid4()), "email": "ada@chat.example.com"},
            "realm": {"uuid": str(uuid.uuid4()), "host": "chat.example.com"},
        }
        request = urllib.request.Request(
            url + "/api/v1/remotes/server/login-link",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic "
                + base64.b64encode(f"{made['uuid']}:{made['key']}".encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert json.loads(answer.read())["login_url"].startswith(url + "/remote-login/")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
