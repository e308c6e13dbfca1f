"""The OpenID Connect provider's machine side: refresh grants and introspections next to the
ceiling.

Run from the repository root:  .venv/bin/python bench/oidc.py [--seconds 10]

``admit serve`` on a fresh PostgreSQL database with one super-user and two confidential
clients that skip consent: one as ``admit apps add-client`` makes it, and one added with
``--refresh-id-token``. The tokens are obtained as a relying party would: a browser
(``requests.Session``) logs in on ``/login/`` with its CSRF token, ``GET /oidc/authorize/``
answers with a code, ``POST /oidc/token/`` exchanges it. From a separate process, for a fixed
time each:

- ``POST /oidc/token/`` ``grant_type=refresh_token`` (``client_secret_basic``) by the default
  client: every connection keeps its own chain, each refresh sending the refresh token the one
  before it returned (a refresh token is good once: it rotates); each chain belongs to its own
  log-in;
- the same by the client with ``--refresh-id-token``, whose answers carry a new signed ID token
  too (for information: the floor is the default client's);
- ``POST /oidc/introspect/`` of live access tokens (HTTP Basic), round-robin;
- ``GET /health``, a constant JSON body through the same server (the framework ceiling);

the four taken in turn in slices (``--rounds``). A refresh counts only when it is answered
200 with a new refresh token, an access token and, exactly when its client asked for one, an
ID token; an introspection only when it is answered 200 with ``"active": true``. The last line
is ``ratio: R``, the lower of introspection/ceiling and refresh/ceiling; the floors are
introspection >= 0.50 and refresh >= 0.25.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from common import HOST, Server, admit_server, bench_args, bench_parser, temporary_database
from load import Load, Phase, Request, drive, interleaved
from signup import bench_policy

USERNAME, PASSWORD = "bench", "bench-Correct-Horse-42"
APP = "CRM"
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never called: the code is read off the redirect
SCOPE = "openid profile email"
INTROSPECTED_TOKENS = 50
# Access tokens live 300 s by default; the introspected ones are made before the run starts.
ACCESS_TOKEN_LIFETIME = 3600
FLOORS = {"introspection": 0.50, "refresh": 0.25}
REFRESHES = ("refresh", "refresh with ID token")  # the phases that are refresh chains
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Run by ``admit manage shell``: the clients, made through admit's own registry.
ADD_CLIENTS = f"""
import json
from admit.core.context import Caller
from admit.sso.oidc import clients
made = [
    clients.add_client(
        {APP!r}, [{REDIRECT_URI!r}], Caller(cid="bench", remote_ip="127.0.0.1", user_agent="bench"),
        skip_consent=True, refresh_id_token=refresh_id_token,
    )
    for refresh_id_token in (False, True)
]
print(json.dumps([{{"client_id": new.client.client_id, "secret": new.secret}} for new in made]))
"""


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str

    @property
    def basic(self) -> dict[str, str]:
        pair = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def set_up(server: Server) -> tuple[Credentials, Credentials]:
    """The super-user (CLI) and the clients (admit's client registry, through the CLI): the
    default one, and one with ``--refresh-id-token``."""
    server.admit(
        "createsuperuser",
        "--username",
        USERNAME,
        "--email",
        "bench@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": PASSWORD},
    )
    output = server.admit("manage", "shell", "-c", ADD_CLIENTS).strip().splitlines()[-1]
    default, with_id_token = (Credentials(c["client_id"], c["secret"]) for c in json.loads(output))
    return default, with_id_token


class Browser:
    """A person's browser: logged in once on ``/login/`` (a new admit session), then asking
    ``/oidc/authorize/`` for as many codes as needed."""

    def __init__(self, port: int) -> None:
        self.base = f"http://{HOST}:{port}"
        self.web = requests.Session()
        login = f"{self.base}/login/?app={APP}"
        page = self.web.get(login, timeout=10)
        page.raise_for_status()
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if found is None:
            raise RuntimeError("the log-in page has no CSRF token")
        form = {"csrfmiddlewaretoken": found[1], "username": USERNAME, "password": PASSWORD}
        answer = self.web.post(login, data=form, allow_redirects=False, timeout=10)
        if answer.status_code != 302:
            raise RuntimeError(f"log-in answered {answer.status_code}: {answer.text[:300]}")

    def code(self, client_id: str) -> str:
        state = secrets.token_urlsafe(8)
        query = {
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
            "nonce": secrets.token_urlsafe(8),
        }
        answer = self.web.get(
            f"{self.base}/oidc/authorize/", params=query, allow_redirects=False, timeout=10
        )
        location = answer.headers.get("Location", "")
        if answer.status_code != 302 or not location.startswith(REDIRECT_URI):
            raise RuntimeError(f"authorize answered {answer.status_code}, to {location!r}")
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if params.get("state") != state or "code" not in params:
            raise RuntimeError(f"authorize sent back {sorted(params)}")
        return params["code"]

    def tokens(self, credentials: Credentials) -> dict:
        """A code exchanged at the token endpoint: access, refresh and ID token."""
        form = {"grant_type": "authorization_code", "code": self.code(credentials.client_id)}
        form["redirect_uri"] = REDIRECT_URI
        answer = requests.post(
            f"{self.base}/oidc/token/", data=form, headers=credentials.basic, timeout=10
        )
        if answer.status_code != 200:
            raise RuntimeError(f"the code exchange answered {answer.status_code}: {answer.text}")
        tokens = answer.json()
        if not {"access_token", "refresh_token", "id_token"} <= tokens.keys():
            raise RuntimeError(f"the code exchange gave {sorted(tokens)}")
        return tokens


@dataclass(frozen=True)
class RefreshChain:
    """A relying party refreshing its tokens: each refresh sends the refresh token the one
    before returned (``load.Chain``). A good answer is a 200 with an access token, a new
    refresh token and, if and only if the client asked for one (``id_token``), an ID token."""

    id_token: bool

    def request(self, state: str) -> Request:
        body = urlencode({"grant_type": "refresh_token", "refresh_token": state}).encode()
        return ("POST", "/oidc/token/", body)

    def follow(self, state: str, status: int, answer: bytes) -> str | None:
        if status != 200:
            return None
        try:
            tokens = json.loads(answer)
        except ValueError:
            return None
        fresh = tokens.get("refresh_token")
        if not tokens.get("access_token") or bool(tokens.get("id_token")) != self.id_token:
            return None  # not the work this client's refresh is (Client.refresh_id_token)
        if not fresh or fresh == state:
            return None
        return fresh


def refreshes(port: int, credentials: Credentials, connections: int, *, id_token: bool) -> Phase:
    """A refresh chain per connection, each from a log-in (an admit session) of its own, as
    separate people would have."""
    chains = [Browser(port).tokens(credentials)["refresh_token"] for _ in range(connections)]
    return Phase([], "", FORM | credentials.basic, RefreshChain(id_token), chains)


def introspections(credentials: Credentials, access_tokens: list[str]) -> Phase:
    bodies: list[Request] = [
        ("POST", "/oidc/introspect/", urlencode({"token": token}).encode())
        for token in access_tokens
    ]
    return Phase(bodies, '"active": true', FORM | credentials.basic)


def main() -> None:
    parser = bench_parser(__doc__, 10.0, "each phase in all")
    parser.add_argument("--rounds", type=int, default=5, help="slices of each phase, in turn")
    args = bench_args(parser)
    limits, policy_note = bench_policy()
    policy = limits + f"\n[oidc]\naccess_token_lifetime = {ACCESS_TOKEN_LIFETIME}\n"

    with (
        temporary_database() as database_url,
        admit_server(database_url, args.workers, policy) as server,
    ):
        credentials, with_id_token = set_up(server)
        browser = Browser(server.port)
        access_tokens = [
            browser.tokens(credentials)["access_token"] for _ in range(INTROSPECTED_TOKENS)
        ]
        phases = {
            "ceiling": Phase([("GET", "/health", None)], '"ok"'),
            "introspection": introspections(credentials, access_tokens),
            "refresh": refreshes(server.port, credentials, args.connections, id_token=False),
            "refresh with ID token": refreshes(
                server.port, with_id_token, args.connections, id_token=True
            ),
        }
        # Warm-up, unmeasured; the refresh chains go on from where it left them.
        warm = [phases["ceiling"].requests[0], *phases["introspection"].requests[:10]]
        drive(server.port, warm, 2.0, args.connections, headers=phases["introspection"].headers)
        for name in REFRESHES:
            chain = phases[name]
            chain.states = drive(
                server.port, [], 1.0, 0, "", chain.headers, None, chain.chain, chain.states
            ).states
        loads = interleaved(
            server.port, phases, args.seconds, args.rounds, args.connections, server.cpu_meter()
        )
        broken_chains = sum(state is None for name in REFRESHES for state in phases[name].states)

    ceiling, introspected, refreshed = loads["ceiling"], loads["introspection"], loads["refresh"]
    signed = loads["refresh with ID token"]

    def of_ceiling(load: Load) -> float:
        return load.rate / ceiling.rate if ceiling.rate else 0.0

    ratios = {"introspection": of_ceiling(introspected), "refresh": of_ceiling(refreshed)}
    print(
        f"cpus: {os.cpu_count()}, server workers: {args.workers}, connections: {args.connections}"
        f", phases in {args.rounds} rounds"
    )
    print(f"{policy_note}; [oidc] access_token_lifetime = {ACCESS_TOKEN_LIFETIME}")
    print(
        f"refresh chains: {args.connections} per client (one log-in each), broken:"
        f" {broken_chains}; introspected access tokens: {len(access_tokens)}"
    )
    print(ceiling.line("ceiling (GET /health)"))
    print(introspected.line("introspections (POST /oidc/introspect/)"))
    print(refreshed.line("refresh grants (POST /oidc/token/ grant_type=refresh_token)"))
    print(signed.line("refresh grants of a client with --refresh-id-token (information)"))
    everything = (ceiling, introspected, refreshed, signed)
    for load in everything:
        print(load.cpu_line())
    for load in everything:
        if load.errors:
            print(f"  error sample: {load.error_sample}")
    for name, load in (("introspection", introspected), ("refresh", refreshed)):
        floor = FLOORS[name]
        ok = ratios[name] >= floor and not load.errors
        print(
            f"{name} {load.rate:.0f}/s: {ratios[name]:.2f} of the ceiling {ceiling.rate:.0f}/s"
            f" (floor {floor:.2f}: {'met' if ok else 'NOT met'})"
        )
    print(
        f"refresh with an ID token {signed.rate:.0f}/s:"
        f" {of_ceiling(signed):.2f} of the ceiling (no floor)"
    )
    failed = any(load.errors for load in everything) or broken_chains
    if failed:
        print("ERRORS: some answers were not good ones (see the error samples)")
    print(f"ratio: {min(ratios.values()):.2f}")
    sys.exit(1 if failed else 0)  # a missed floor is a figure; a bad answer is a failed run


if __name__ == "__main__":
    main()
