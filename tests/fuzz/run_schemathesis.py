"""Schemathesis against a real ``admit serve``: no 5xx, no status the OpenAPI document lacks.

Run from the repository root:  .venv/bin/python tests/fuzz/run_schemathesis.py [--seconds 150]
(``make fuzz``; CI runs it from ``.ci/run``). Anything after ``--`` goes to ``schemathesis run``.

Like the benchmarks (``bench/common.py``): a fresh PostgreSQL database on 127.0.0.1:5432 (where
text with a NUL byte fails, and SQLite lets it through), ``admit migrate``, ``admit serve`` on
a free loopback port with the rate limits off (every request comes from one address: a 429
would hide the code behind it), and the database dropped at the end. Before the run it makes a
super-user and registers a remote server; ``schemathesis_hooks.py`` hands their credentials to
about half the generated requests, so that the code behind the session and key checks is
reached too. ``schemathesis.toml`` beside this file holds the rest of the settings.

``schemathesis run .../api/openapi.json --checks all`` then runs for a bounded time
(``--max-time``; the whole script is also killed past a hard deadline). The exit code is
schemathesis's: non-zero when any check failed, a 5xx or an undocumented status among them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import HOST, VENV_BIN, admit_server, temporary_database  # noqa: E402

SUPERUSER = "fuzz_admin"
UNREACHABLE = 1_000_000_000
# Rate limits off. The [remote] limits are per server, not per address, and a server past
# them answers 429, which is documented; they are raised out of reach so that the key the
# hooks hand out keeps reaching the link code.
POLICY = f"""\
[rate_limits]
enabled = false

[remote]
link_requests_per_server = [{UNREACHABLE}, 60]
confirmation_emails_per_address = [{UNREACHABLE}, 3600]
confirmation_emails_per_server = [{UNREACHABLE}, 3600]
"""
# Past --max-time, schemathesis still finishes the cases under way and shrinks what failed.
GRACE_SECONDS = 240
LOG_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d |\[\d{4}-\d\d-\d\d )")  # admit's and gunicorn's
MAX_ERRORS_SHOWN = 5
REQUEST_LINE = re.compile(r" admit\.request cid=\S+ (\S+) (\S+) (\d{3}) ", re.MULTILINE)


def server_errors(log: str) -> list[str]:
    """The server log's ERROR records, each with the lines (a traceback) that follow it."""
    blocks: list[list[str]] = []
    inside = False
    for line in log.splitlines():
        starts_record = LOG_RECORD.match(line) is not None
        if starts_record:
            inside = " ERROR " in line or " CRITICAL " in line
            if inside:
                blocks.append([line])
        elif inside:
            blocks[-1].append(line)
    return ["\n".join(block) for block in blocks]


def answers_per_route(log: str, documented: set[str]) -> str:
    """How many answers of each status each documented operation gave: what the run reached."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for method, path, status in REQUEST_LINE.findall(log):
        operation = f"{method} {path}"
        counts[operation if operation in documented else "other methods and paths"][status] += 1
    return "\n".join(
        f"  {route:45} " + " ".join(f"{status}:{n}" for status, n in sorted(statuses.items()))
        for route, statuses in sorted(counts.items())
    )


def documented_operations(port: int) -> set[str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", "/api/openapi.json")
        paths = json.loads(conn.getresponse().read())["paths"]
    finally:
        conn.close()
    return {f"{method.upper()} {path}" for path, methods in paths.items() for method in methods}


def schemathesis_command(url: str, seconds: int, workers: int, extra: list[str]) -> list[str]:
    return [
        str(VENV_BIN / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        url,
        "--checks",
        "all",
        "--max-time",
        str(seconds),
        "--workers",
        str(workers),
        "--request-timeout",
        "30",
        "--generation-database",
        "none",  # no .hypothesis folder in the work tree; each run starts afresh
        "--no-color",
        *extra,
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=150, help="schemathesis --max-time")
    parser.add_argument("--workers", type=int, default=2, help="server workers")
    parser.add_argument("--fuzz-workers", type=int, default=1, help="schemathesis workers")
    parser.add_argument("extra", nargs="*", help="after --: more schemathesis run options")
    args = parser.parse_args()

    started = time.monotonic()
    with (
        temporary_database("admit_fuzz") as database_url,
        admit_server(database_url, args.workers, POLICY) as server,
    ):
        password = secrets.token_urlsafe(18)
        server.admit(
            "createsuperuser",
            "--username",
            SUPERUSER,
            "--email",
            f"{SUPERUSER}@example.com",
            extra_env={"ADMIT_SUPERUSER_PASSWORD": password},
        )
        remote = json.loads(
            server.admit(
                "remote-servers",
                "add",
                "--hostname",
                "fuzz.example.com",
                "--contact-email",
                "fuzz@example.com",
                "--json",
            )
        )
        base_url = f"http://{HOST}:{server.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
        env.update(
            # Hypothesis's caches go to the run's temporary folder, not the work tree.
            HYPOTHESIS_STORAGE_DIRECTORY=str(Path(server.env["ADMIT_DATA_DIR"]) / "hypothesis"),
            FUZZ_ADMIT_ENV=json.dumps(server.env),
            FUZZ_BASE_URL=base_url,
            FUZZ_USERNAME=SUPERUSER,
            FUZZ_PASSWORD=password,
            FUZZ_SERVER_UUID=remote["uuid"],
            FUZZ_SERVER_KEY=remote["key"],
        )
        command = schemathesis_command(
            f"{base_url}/api/openapi.json", args.seconds, args.fuzz_workers, args.extra
        )
        print("+", " ".join(command), flush=True)
        try:
            code = subprocess.run(
                command, env=env, cwd=ROOT, timeout=args.seconds + GRACE_SECONDS
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"schemathesis did not finish within {args.seconds + GRACE_SECONDS} s")
            code = 1
        print("answers per route, from the server's log:")
        print(answers_per_route(server.log(), documented_operations(server.port)))
        errors = server_errors(server.log())
        if errors:
            print(f"the server logged {len(errors)} errors; the first of them:")
            print("\n\n".join(errors[:MAX_ERRORS_SHOWN]))
    print(f"fuzz: schemathesis exited {code} after {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
