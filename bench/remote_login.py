"""Remote log-in links: link requests and confirm-login page loads next to the ceiling.

Run from the repository root:  .venv/bin/python bench/remote_login.py [--seconds 10]

``admit serve`` on a fresh PostgreSQL database with one registered remote server and one
known realm user. From a separate process, for a fixed time each:
``POST /api/v1/remotes/server/login-link`` (HTTP Basic, the server's uuid and key), then
``GET /remote-login/<token>/`` (the "Confirm login" page of a known user, over 200 links),
and ``GET /health``, a constant JSON body through the same server (the framework ceiling),
the three taken in turn in slices (``--rounds``). The last line is ``ratio: R``, the lower of
the two ratios to the ceiling; the floor is R >= 0.50 for each.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from common import (
    HOST,
    VENV_BIN,
    admit_environment,
    admit_server,
    bench_args,
    bench_parser,
    temporary_database,
)
from load import Phase, drive, interleaved
from signup import bench_policy

REALM = {"uuid": str(uuid.uuid4()), "host": "chat.example.com", "name": "Example"}
USER = {"uuid": str(uuid.uuid4()), "email": "ada@example.com", "full_name": "Ada Admin"}
LINKS = 200


def register_server(database_url: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = admit_environment(database_url, Path(tmp))
        command = [
            "remote-servers",
            "add",
            "--hostname",
            "chat.example.com",
            "--contact-email",
            "o@example.com",
        ]
        done = subprocess.run(
            [VENV_BIN / "admit", *command, "--json"], env=env, check=True, capture_output=True
        )
    return json.loads(done.stdout)


def login_link(port: int, authorization: str) -> str:
    body = json.dumps({"user": USER, "realm": REALM, "next_page": "account"}).encode()
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1 only)
        f"http://{HOST}:{port}/api/v1/remotes/server/login-link",
        data=body,
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["login_url"]


def make_known_user(database_url: str) -> None:
    """The realm user a previous first-time log-in would have made, ToS accepted."""
    with psycopg.connect(database_url) as conn:
        realm_pk = conn.execute(
            "SELECT id FROM remote_remoterealm WHERE uuid = %s", [REALM["uuid"]]
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO remote_remoterealmuser (realm_id, user_uuid, email, full_name,"
            " date_joined, is_active, tos_version, enable_major_release_emails,"
            " enable_maintenance_release_emails)"
            " VALUES (%s, %s, %s, %s, %s, true, '1.0', true, true)",
            [realm_pk, USER["uuid"], USER["email"], USER["full_name"], datetime.now(UTC)],
        )


def main() -> None:
    parser = bench_parser(__doc__, 10.0, "each phase in all")
    parser.add_argument("--rounds", type=int, default=5, help="slices of each phase, in turn")
    args = bench_args(parser)
    limits, policy_note = bench_policy()
    policy = limits + "\n[remote]\nlink_requests_per_server = [1000000000, 60]\n"

    with (
        temporary_database() as database_url,
        admit_server(database_url, args.workers, policy) as server,
    ):
        credentials = register_server(database_url)
        secret = base64.b64encode(f"{credentials['uuid']}:{credentials['key']}".encode()).decode()
        authorization = {"Authorization": f"Basic {secret}"}
        login_link(server.port, authorization["Authorization"])  # registers the realm
        make_known_user(database_url)
        links_made = [login_link(server.port, authorization["Authorization"]) for _ in range(LINKS)]
        pages = [
            ("GET", "/remote-login/" + url.split("/remote-login/", 1)[1], None)
            for url in links_made
        ]
        link_body = {"user": USER, "realm": REALM, "next_page": "account"}
        phases = {
            "ceiling": Phase([("GET", "/health", None)], '"ok"'),
            "links": Phase(
                [("POST", "/api/v1/remotes/server/login-link", link_body)],
                "login_url",
                authorization,
            ),
            "pages": Phase(pages, "Confirm login"),
        }
        drive(server.port, phases["ceiling"].requests + pages[:20], 2.0, args.connections)
        loads = interleaved(
            server.port, phases, args.seconds, args.rounds, args.connections, server.cpu_meter()
        )

    ceiling, links, page_loads = loads["ceiling"], loads["links"], loads["pages"]
    link_ratio = links.rate / ceiling.rate if ceiling.rate else 0.0
    page_ratio = page_loads.rate / ceiling.rate if ceiling.rate else 0.0
    print(
        f"cpus: {os.cpu_count()}, server workers: {args.workers}, connections: {args.connections}"
        f", phases in {args.rounds} rounds"
    )
    print(policy_note + "; [remote] link_requests_per_server raised likewise")
    print(ceiling.line("ceiling (GET /health)"))
    print(links.line("link requests (POST /api/v1/remotes/server/login-link)"))
    print(page_loads.line("confirm-login page loads (GET /remote-login/<token>/)"))
    for load in (ceiling, links, page_loads):
        print(load.cpu_line())
    for load in (ceiling, links, page_loads):
        if load.errors:
            print(f"  error sample: {load.error_sample}")
    print(
        f"link requests/s {links.rate:.0f} ({link_ratio:.2f} of the ceiling {ceiling.rate:.0f}/s)"
    )
    print(f"page loads/s {page_loads.rate:.0f} ({page_ratio:.2f} of the ceiling)")
    ratio = min(link_ratio, page_ratio)
    print(f"floor each >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'}")
    print(f"ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
