"""Schemathesis hooks: give part of the generated requests real credentials.

Loaded by ``run_schemathesis.py`` (``hooks`` in ``schemathesis.toml``). Without them nearly
every request that needs a session or a remote server's key stops at the first check (403 or
401) and the code behind it is never reached. The runner hands over, in ``FUZZ_*`` variables,
a super-user's name and password, a registered remote server's uuid and key, and the
``ADMIT_*`` environment of the server (to make another super-user with the CLI).

- A session token field (``ust``, ``current_ust``, ``target_ust``, in the body or the query
  string) that was generated as a string is replaced by a live ``ust`` in about half the
  cases, chosen from the generated value itself so that a case replays the same way
  (Hypothesis runs a case again while it shrinks). Negative cases must still be refused, so
  a value that breaks the field's schema (another type, a control character or a lone
  surrogate: what ``admit.core.names.control_character`` finds) is left alone, and so is
  every token of a query string generated in negative mode: there schemathesis
  counts as invalid values that read the same on the wire as valid ones (``data`` made a
  boolean is sent as ``data=false``, a list of one name), and a live session would turn
  such a case into an accepted request that it reports as "schema-violating".
- Requests to the remote-server API get the server's HTTP Basic credentials in about half the
  cases, unless the case has an ``Authorization`` header already.

The fuzzer does to that super-user what the API lets a super-user do to itself: it logs out,
ends its sessions, locks it, marks its password to be changed. When an answer to a request
that carried its ``ust`` says the session is gone or the user may no longer do this, the hook
logs in again; when the log-in fails, it makes a new super-user with ``admit
createsuperuser``. Turning TOTP on is the one change that a super-user cannot undo for itself
through the API, so ``PATCH /zato/sso/user/totp`` gets the session of an ordinary user made for
it instead, a new one after each success.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import schemathesis

from admit.core.names import control_character  # what admit refuses in these fields

UST_FIELDS = ("ust", "current_ust", "target_ust")
# A request with the super-user's session answered with one of these: check the session.
SESSION_IN_DOUBT = {
    "E003004",  # password expired
    "E003007",  # password must change
    "E005002",  # locked
    "E005003",  # not confirmed
    "E005004",  # not approved
    "E005001",  # no longer a super-user (Zato's code for it; E005005 stays in the audit)
    "E007001",  # no such session
    "E007002",  # session expired
}
TOTP_PATH = "/zato/sso/user/totp"
MAX_NEW_SUPERUSERS = 50  # past this, the hook stops handing out sessions

_lock = threading.Lock()
_admin = {"username": os.environ.get("FUZZ_USERNAME", ""), "password": ""}
_sessions: dict[str, str | None] = {"admin": None, "spare": None}
_made = {"superusers": 0}


def _request(method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    url = urlsplit(os.environ["FUZZ_BASE_URL"])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    try:
        conn.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _log_in(username: str, password: str) -> str | None:
    body = {"username": username, "password": password, "current_app": "CRM"}
    status, answer = _request("POST", "/zato/sso/user/login", body)
    return str(answer["ust"]) if status == 200 and "ust" in answer else None


def _new_superuser() -> None:
    """Another super-user, made with the CLI on the server's database."""
    if _made["superusers"] >= MAX_NEW_SUPERUSERS:
        raise RuntimeError(f"made {MAX_NEW_SUPERUSERS} super-users already")
    _made["superusers"] += 1
    username = f"fuzz_admin_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    env |= json.loads(os.environ["FUZZ_ADMIT_ENV"]) | {"ADMIT_SUPERUSER_PASSWORD": password}
    command = ["createsuperuser", "--username", username, "--email", f"{username}@example.com"]
    subprocess.run(
        [Path(sys.executable).parent / "admit", *command], env=env, check=True, capture_output=True
    )
    _admin.update(username=username, password=password)


def admin_ust() -> str | None:
    """A live session of a super-user: the last one, or a new log-in, or a new super-user."""
    with _lock:
        if _sessions["admin"] is None:
            if not _admin["password"]:
                _admin["password"] = os.environ["FUZZ_PASSWORD"]
            ust = _log_in(_admin["username"], _admin["password"])
            if ust is None:
                try:
                    _new_superuser()
                except (RuntimeError, subprocess.CalledProcessError) as error:
                    print(f"fuzz hooks: no super-user session: {error}", file=sys.stderr)
                    return None
                ust = _log_in(_admin["username"], _admin["password"])
            _sessions["admin"] = ust
        return _sessions["admin"]


def spare_ust() -> str | None:
    """A session of an ordinary user made for it by the super-user, for the TOTP route."""
    with _lock:
        if _sessions["spare"] is not None:
            return _sessions["spare"]
    admin = admin_ust()
    if admin is None:
        return None
    username, password = f"fuzz_user_{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    body = {
        "ust": admin,
        "username": username,
        "password": password,
        "email": f"{username}@example.com",
        "auto_approve": True,
    }
    status, _ = _request("POST", "/zato/sso/user", body)
    ust = _log_in(username, password) if status == 200 else None
    with _lock:
        _sessions["spare"] = ust
    return ust


def _forget(ust: str) -> None:
    with _lock:
        for role, live in _sessions.items():
            if live == ust:
                _sessions[role] = None


def _chosen(value: object) -> bool:
    """About half the values, the same ones every time."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


def _negative_query(case: Any) -> bool:
    """Whether schemathesis generated the case's query string to break its schema."""
    components = case.meta.components if case.meta is not None else {}
    return any(
        location == "query" and info.mode == schemathesis.GenerationMode.NEGATIVE
        for location, info in components.items()
    )


def _with_session(container: Any, path: str) -> None:
    if not isinstance(container, dict):
        return
    for name in UST_FIELDS:
        value = container.get(name)
        valid = isinstance(value, str) and not control_character(value)
        if valid and _chosen(value):
            ust = spare_ust() if path == TOTP_PATH else admin_ust()
            if ust is not None:
                container[name] = ust


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    _with_session(case.body, path)
    if not _negative_query(case):
        _with_session(case.query, path)
    if path.startswith("/api/v1/remotes/server/"):
        headers = case.headers if isinstance(case.headers, dict) else {}
        if "authorization" not in {name.lower() for name in headers} and _chosen(case.body):
            pair = f"{os.environ['FUZZ_SERVER_UUID']}:{os.environ['FUZZ_SERVER_KEY']}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            case.headers = headers


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    sent = [
        container[name]
        for container in (case.body, case.query)
        if isinstance(container, dict)
        for name in UST_FIELDS
        if isinstance(container.get(name), str)
    ]
    if not sent:
        return
    if case.operation.path == TOTP_PATH and response.status_code == 200:
        for ust in sent:
            _forget(ust)  # TOTP is on for the spare user now: make another
        return
    if response.status_code in (401, 403):
        try:
            codes = set(response.json().get("sub_status") or ())
        except (ValueError, AttributeError):
            return
        if codes & SESSION_IN_DOUBT:
            for ust in sent:
                _forget(ust)
