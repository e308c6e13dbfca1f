"""Whether answers tell who has an account: their times and bodies, known against unknown.

Run from the repository root:  .venv/bin/python bench/enumeration.py [--pairs 200]

``admit serve`` on a fresh PostgreSQL database (policy: the defaults, with the rate limits off
and the failure counts that pause or lock an account out of reach, so that every answer runs
the whole flow and no 429 mixes in), a super-user made with the CLI and a few ordinary,
approved users (``--known-users``) made through the API. Then three comparisons, each a pair
of requests that should be indistinguishable:

1. log-in: ``POST /zato/sso/user/login`` with an unknown username against a known username with
   a wrong password;
2. sign-up: ``POST /zato/sso/user/signup`` with a fresh e-mail address against a known user's
   (taken) address, each with a fresh username;
3. password reset: ``POST /zato/sso/password/reset`` for an existing username against a
   missing one.

Unknown and fresh names are new in every request; the known users are taken in turn. Each
round sends one pair of each comparison, the comparisons and the two requests of each pair in
random order, over one ``http.client`` connection from this process, timing each request
(from sending it to reading the whole answer) with ``time.perf_counter``. A few rounds first
are not counted.

For each comparison it prints the two medians in milliseconds and the Mann-Whitney U test's z
(normal approximation, with the tie correction): |z| >= 3 says the two kinds of answer take
measurably different times, that is, that timing tells whether the account exists. The floor
is |z| < 3 for each. It also checks that the two answers of every pair have the same status
and the same body apart from the ``cid`` and the tokens (whose length must still match), and
prints a ``WARNING`` line when they differ. The last line is ``max |z|: Z``.

Exit code: 0 when it measured (whatever the figures), 1 when some pair's status or body
differed, 2 when the set-up failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import psycopg

from admit import config as admit_config
from common import HOST, Server, admit_server, temporary_database

LOGIN_PATH = "/zato/sso/user/login"
SIGNUP_PATH = "/zato/sso/user/signup"
RESET_PATH = "/zato/sso/password/reset"
USER_PATH = "/zato/sso/user"
PASSWORD = "bench-Correct-Horse-42"
WRONG_PASSWORD = "bench-Wrong-Horse-42"
APP = "CRM"
Z_FLOOR = 3.0
UNREACHABLE = 1_000_000_000
REQUEST_TIMEOUT = 30.0
# Fields whose values differ by nature from one answer to the next: compared by length only.
VOLATILE_FIELDS = ("cid", "ust", "user_id", "reset_key")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="measured pairs per comparison")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted rounds first")
    parser.add_argument("--known-users", type=int, default=10, help="accounts that exist")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="stop measuring after this long, with the pairs done so far",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server workers")
    parser.add_argument("--seed", type=int, default=None, help="for the random orders")
    return parser.parse_args()


def policy_toml() -> str:
    """The defaults, with the rate limits off and the per-account failure counts out of reach.

    Written from the policy's own fields, so that it suits this admit's keys as they change.
    """
    policy = admit_config.Policy()
    lines = ["[rate_limits]", "enabled = false", "", "[login]"]
    for name in ("lockout_after", "max_consecutive_failures"):
        if any(item.name == name for item in fields(policy.login)):
            lines.append(f"{name} = {UNREACHABLE}")
    return "\n".join(lines) + "\n"


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    seconds: float


class Client:
    """One keep-alive connection (re-opened by ``http.client`` when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        started = time.perf_counter()
        self.conn.request(method, path, data, headers)
        response = self.conn.getresponse()
        raw = response.read()
        seconds = time.perf_counter() - started
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(response.status, parsed, seconds)

    def close(self) -> None:
        self.conn.close()


# --- set-up ----------------------------------------------------------------------------------


class SetupError(Exception):
    pass


@dataclass
class Account:
    username: str
    email: str


def make_accounts(server: Server, client: Client, count: int) -> list[Account]:
    """A super-user (CLI), then ``count`` approved ordinary users made by it through the API."""
    admin, admin_password = f"bench_admin_{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    server.admit(
        "createsuperuser",
        "--username",
        admin,
        "--email",
        f"{admin}@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": admin_password},
    )
    login = client.send(
        "POST", LOGIN_PATH, {"username": admin, "password": admin_password, "current_app": APP}
    )
    if login.status != 200 or not isinstance(login.body, dict) or "ust" not in login.body:
        raise SetupError(f"the super-user could not log in: {login.status} {login.body}")
    ust = login.body["ust"]
    accounts = []
    for number in range(count):
        username = f"known{number}_{secrets.token_hex(3)}"
        account = Account(username, f"{username}@example.com")
        made = client.send(
            "POST",
            USER_PATH,
            {
                "ust": ust,
                "username": account.username,
                "password": PASSWORD,
                "email": account.email,
                "auto_approve": True,
            },
        )
        if made.status != 200:
            raise SetupError(f"could not create {username}: {made.status} {made.body}")
        user_id = made.body["user_id"]
        read = client.send("GET", f"{USER_PATH}?ust={ust}&user_id={user_id}")
        # Zato's record: a confirmed sign-up is "final", an approved one "approved".
        if read.status != 200 or not (
            read.body.get("approval_status") == "approved"
            and read.body.get("sign_up_status") == "final"
        ):
            raise SetupError(f"{username} is not confirmed and approved: {read.status} {read.body}")
        accounts.append(account)
    return accounts


# --- the comparisons -------------------------------------------------------------------------


def fresh_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6)}"


@dataclass
class Comparison:
    name: str
    a_label: str
    b_label: str
    a_request: Callable[[Account], dict[str, Any]]
    b_request: Callable[[Account], dict[str, Any]]
    path: str
    a_times: list[float] = field(default_factory=list)
    b_times: list[float] = field(default_factory=list)
    a_statuses: Counter[int] = field(default_factory=Counter)
    b_statuses: Counter[int] = field(default_factory=Counter)
    status_differs: int = 0
    body_differs: int = 0
    example: str = ""

    def run_pair(self, client: Client, account: Account, rng: random.Random, count: bool) -> None:
        a_first = rng.random() < 0.5
        order = ("a", "b") if a_first else ("b", "a")
        answers = {}
        for side in order:
            request = self.a_request if side == "a" else self.b_request
            answers[side] = client.send("POST", self.path, request(account))
        if not count:
            return
        a, b = answers["a"], answers["b"]
        self.a_times.append(a.seconds)
        self.b_times.append(b.seconds)
        self.a_statuses[a.status] += 1
        self.b_statuses[b.status] += 1
        if a.status != b.status:
            self.status_differs += 1
        if shape(a.body) != shape(b.body):
            self.body_differs += 1
        if (a.status != b.status or shape(a.body) != shape(b.body)) and not self.example:
            self.example = (
                f"{self.a_label}: {a.status} {json.dumps(a.body)}"
                f" | {self.b_label}: {b.status} {json.dumps(b.body)}"
            )


def shape(body: Any) -> Any:
    """The body with its volatile values (cid, tokens) replaced by their lengths."""
    if isinstance(body, dict):
        return {
            key: (
                ("<volatile>", len(value) if isinstance(value, str) else type(value).__name__)
                if key in VOLATILE_FIELDS or key.endswith("token")
                else shape(value)
            )
            for key, value in sorted(body.items())
        }
    if isinstance(body, list):
        return [shape(item) for item in body]
    return body


def comparisons() -> list[Comparison]:
    return [
        Comparison(
            "log-in",
            "unknown user",
            "known user, wrong password",
            lambda known: {
                "username": fresh_name("nobody"),
                "password": WRONG_PASSWORD,
                "current_app": APP,
            },
            lambda known: {
                "username": known.username,
                "password": WRONG_PASSWORD,
                "current_app": APP,
            },
            LOGIN_PATH,
        ),
        Comparison(
            "sign-up",
            "fresh address",
            "taken address",
            lambda known: _signup(f"{fresh_name('fresh')}@example.com"),
            lambda known: _signup(known.email),
            SIGNUP_PATH,
        ),
        Comparison(
            "password reset",
            "existing username",
            "missing username",
            lambda known: {"credential": known.username, "current_app": APP},
            lambda known: {"credential": fresh_name("nobody"), "current_app": APP},
            RESET_PATH,
        ),
    ]


def _signup(email: str) -> dict[str, Any]:
    return {
        "username": fresh_name("new"),
        "password": PASSWORD,
        "email": email,
        "current_app": APP,
    }


# --- statistics ------------------------------------------------------------------------------


def mann_whitney_z(a: list[float], b: list[float]) -> float:
    """z of the Mann-Whitney U test of ``a`` against ``b`` (normal approximation, ties
    corrected, no continuity correction); positive when ``a`` tends to be the larger."""
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return float("nan")
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    n = n1 + n2
    ranks = [0.0] * n
    tie_term = 0.0
    start = 0
    while start < n:
        end = start
        while end + 1 < n and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        average = (start + end) / 2 + 1  # ranks start at 1
        for index in range(start, end + 1):
            ranks[index] = average
        ties = end - start + 1
        tie_term += ties**3 - ties
        start = end + 1
    rank_sum_a = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u_a = rank_sum_a - n1 * (n1 + 1) / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 0.0
    return (u_a - n1 * n2 / 2) / math.sqrt(variance)


# --- main ------------------------------------------------------------------------------------


def measure(server: Server, args: argparse.Namespace, rng: random.Random) -> list[Comparison]:
    client = Client(server.port)
    try:
        try:
            accounts = make_accounts(server, client, args.known_users)
        except (RuntimeError, KeyError, AttributeError, OSError) as error:
            raise SetupError(str(error)) from error
        compared = comparisons()
        deadline = time.monotonic() + args.max_seconds
        for round_number in range(args.warmup + args.pairs):
            if time.monotonic() > deadline:
                print(f"stopped at the time limit after {round_number - args.warmup} rounds")
                break
            account = accounts[round_number % len(accounts)]
            for comparison in rng.sample(compared, len(compared)):
                comparison.run_pair(client, account, rng, count=round_number >= args.warmup)
        return compared
    finally:
        client.close()


def report(compared: list[Comparison]) -> bool:
    """Print the figures; whether every pair's statuses and bodies were alike."""
    alike, max_z = True, 0.0
    for item in compared:
        z = mann_whitney_z(item.a_times, item.b_times)
        max_z = max(max_z, abs(z)) if not math.isnan(z) else max_z
        a_ms = statistics.median(item.a_times) * 1000 if item.a_times else float("nan")
        b_ms = statistics.median(item.b_times) * 1000 if item.b_times else float("nan")
        verdict = "met" if abs(z) < Z_FLOOR else "NOT met"
        print(
            f"{item.name}: {len(item.a_times)} pairs; median {item.a_label} {a_ms:.2f} ms,"
            f" {item.b_label} {b_ms:.2f} ms; z = {z:+.2f} (floor |z| < {Z_FLOOR:.0f}: {verdict})"
        )
        print(
            f"  statuses: {item.a_label} {dict(item.a_statuses)},"
            f" {item.b_label} {dict(item.b_statuses)}"
        )
        if item.status_differs:
            alike = False
            print(
                f"WARNING {item.name}: statuses differ in {item.status_differs} of"
                f" {len(item.a_times)} pairs (an enumeration leak)"
            )
        if item.body_differs:
            alike = False
            print(
                f"WARNING {item.name}: bodies differ (beyond cid and tokens) in"
                f" {item.body_differs} of {len(item.a_times)} pairs"
            )
        if item.example:
            print(f"  e.g. {item.example}")
    print(f"max |z|: {max_z:.2f}")
    return alike


def main() -> int:
    args = parse_args()
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    print(f"server workers: {args.workers}, pairs: {args.pairs}, seed: {seed}")
    print("policy: the defaults; rate limits off, failure counts that pause an account unreachable")
    started = time.monotonic()
    try:
        with (
            temporary_database("admit_enum") as database_url,
            admit_server(database_url, args.workers, policy_toml()) as server,
        ):
            compared = measure(server, args, rng)
    except (
        SetupError,
        RuntimeError,
        OSError,
        psycopg.Error,
        subprocess.CalledProcessError,
    ) as error:
        print(f"set-up failed: {error}", file=sys.stderr)
        return 2
    print(f"measured in {time.monotonic() - started:.0f} s")
    return 0 if report(compared) else 1


if __name__ == "__main__":
    sys.exit(main())
