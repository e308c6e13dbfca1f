"""Session verification (the relying applications' hot path) next to the framework ceiling.

Run from the repository root:  .venv/bin/python bench/session_verify.py [--seconds 10]

``admit serve`` on a fresh PostgreSQL database holding 10,000 live sessions. From a separate
process: ``POST /zato/sso/user/session`` verify calls (each session verifying itself, all
10,000 in turn) for a fixed time, and, in the same run, ``GET /health`` — a constant JSON
body through the same server and middleware, the framework's ceiling — the two taken in turn
in slices (``--rounds``). The last line is ``ratio: R``, verifies per second over the
ceiling. Floors: R >= 0.50 and verify p99 under 20 ms.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from common import (
    VENV_BIN,
    admit_environment,
    admit_server,
    bench_args,
    bench_parser,
    temporary_database,
)
from load import Phase, drive, interleaved

SESSIONS = 10_000
PASSWORD = "bench-Correct-Horse-42"


def make_sessions(database_url: str, count: int) -> list[str]:
    """``count`` live sessions of one super-user, written straight to the database."""
    with tempfile.TemporaryDirectory() as tmp:
        env = admit_environment(database_url, Path(tmp)) | {"ADMIT_SUPERUSER_PASSWORD": PASSWORD}
        command = ["createsuperuser", "--username", "bench", "--email", "bench@example.com"]
        subprocess.run([VENV_BIN / "admit", *command], env=env, check=True, capture_output=True)
    tokens = ["zust" + secrets.token_hex(16) for _ in range(count)]
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        user_pk = conn.execute("SELECT id FROM sso_user WHERE username_key = 'bench'").fetchone()[0]
        columns = (
            "ust_digest, user_id, app, created_at, expires_at, remote_addr, user_agent,"
            " second_factor"
        )
        with conn.cursor().copy(f"COPY sso_session ({columns}) FROM STDIN") as copy:
            for token in tokens:
                digest = hashlib.sha256(token.encode()).hexdigest()
                expires = now + timedelta(hours=2)
                copy.write_row((digest, user_pk, "CRM", now, expires, "", "bench", False))
    return tokens


def main() -> None:
    parser = bench_parser(__doc__, 10.0, "each phase in all")
    parser.add_argument("--rounds", type=int, default=5, help="slices of each phase, in turn")
    args = bench_args(parser)

    with temporary_database() as database_url, admit_server(database_url, args.workers) as server:
        tokens = make_sessions(database_url, SESSIONS)
        verify = [
            ("POST", "/zato/sso/user/session", {"current_ust": t, "target_ust": t}) for t in tokens
        ]
        phases = {
            "ceiling": Phase([("GET", "/health", None)], '"ok"'),
            "verify": Phase(verify, '"is_valid": true'),
        }
        drive(server.port, verify[:500] + phases["ceiling"].requests, 2.0, args.connections)
        loads = interleaved(server.port, phases, args.seconds, args.rounds, args.connections)

    ceiling, verified = loads["ceiling"], loads["verify"]
    ratio = verified.rate / ceiling.rate if ceiling.rate else 0.0
    print(
        f"cpus: {os.cpu_count()}, server workers: {args.workers}, connections: {args.connections}"
        f", phases in {args.rounds} rounds"
    )
    print(f"live sessions: {SESSIONS}")
    print(ceiling.line("ceiling (GET /health)"))
    print(verified.line("verify (POST /zato/sso/user/session)"))
    for load in (ceiling, verified):
        if load.errors:
            print(f"  error sample: {load.error_sample}")
    print(f"verifies/s {verified.rate:.0f} vs ceiling {ceiling.rate:.0f}/s")
    print(f"floor ratio >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'} ({ratio:.2f})")
    p99 = verified.p(0.99)
    print(f"floor p99 < 20 ms: {'met' if p99 < 20 else 'NOT met'} ({p99:.1f} ms)")
    print(f"ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
