"""Log-ins per second over HTTP, next to the raw Argon2id hash rate of the same machine.

Run from the repository root:  .venv/bin/python bench/login.py [--seconds 15]

``admit serve`` on a fresh PostgreSQL database with a few users; from a separate process,
``POST /zato/sso/user/login`` with the right passwords for a fixed time. In the same run, the
raw Argon2id hash rate (the service's parameters, one process per server worker), taken in
turn with the load in slices (``--rounds``) so that both see the same minutes. Every log-in
costs one hash, so the hash rate is the ceiling. The last line is ``ratio: R``, log-ins per
second over the hash rate; the floor is R >= 0.80.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from common import (
    VENV_BIN,
    admit_environment,
    admit_server,
    bench_args,
    bench_parser,
    temporary_database,
)
from load import Load, drive
from signup import bench_policy, hash_rate, together

USERS = 20
PASSWORD = "bench-Correct-Horse-42"


def make_users(database_url: str) -> list[str]:
    """Super-users made with the CLI: confirmed, approved, allowed to log in."""
    names = [f"bench{number}" for number in range(USERS)]
    with tempfile.TemporaryDirectory() as tmp:
        env = admit_environment(database_url, Path(tmp)) | {"ADMIT_SUPERUSER_PASSWORD": PASSWORD}
        for name in names:
            command = ["createsuperuser", "--username", name, "--email", f"{name}@example.com"]
            subprocess.run([VENV_BIN / "admit", *command], env=env, check=True, capture_output=True)
    return names


def main() -> None:
    parser = bench_parser(__doc__, 15.0, "the measured load")
    parser.add_argument("--hash-seconds", type=float, default=2.0, help="each hash slice")
    parser.add_argument("--rounds", type=int, default=5, help="load slices, between hash slices")
    args = bench_args(parser)
    policy, policy_note = bench_policy()  # one client address: limits raised out of reach

    with (
        temporary_database() as database_url,
        admit_server(database_url, args.workers, policy) as server,
    ):
        names = make_users(database_url)
        logins = [
            (
                "POST",
                "/zato/sso/user/login",
                {"username": name, "password": PASSWORD, "current_app": "CRM"},
            )
            for name in names
        ]
        drive(server.port, logins, 2.0, args.connections)  # warm-up, unmeasured
        slices, measured = [], Load()
        for _ in range(args.rounds):  # taken in turn: the machine's speed moves
            slices.append(hash_rate(args.workers, args.hash_seconds, PASSWORD))
            measured += drive(
                server.port,
                logins,
                args.seconds / args.rounds,
                args.connections,
                '"ust"',
                meter=server.cpu_meter(),
            )
        slices.append(hash_rate(args.workers, args.hash_seconds, PASSWORD))

    hashes = together(slices).per_second
    ratio = measured.rate / hashes if hashes else 0.0
    print(
        f"cpus: {os.cpu_count()}, server workers: {args.workers}, connections: {args.connections}"
    )
    print(policy_note)
    print(
        f"argon2id hash rate ({args.workers} processes, m=19456 KiB t=2 p=1): {hashes:.1f}/s"
        f" (slices {min(rate.per_second for rate in slices):.1f} to"
        f" {max(rate.per_second for rate in slices):.1f})"
    )
    print(measured.line("log-ins (POST /zato/sso/user/login)"))
    print(measured.cpu_line())
    if measured.errors:
        print(f"  error sample: {measured.error_sample}")
    print(f"log-ins/s {measured.rate:.1f} vs hash rate {hashes:.1f}/s")
    print(f"floor ratio >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.2f})")
    print(f"ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
